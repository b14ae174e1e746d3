/** nunjucks' lexer tokens and parse nodes, as kunai's parser and compiler extensions see them. */
export interface Token {
  type: string;
  value: string;
  lineno: number;
  colno: number;
}

/** A parse node; `V` is what its `value` holds where a module reads it (a literal's text...). */
export interface Node<V = unknown> {
  typename: string;
  lineno: number;
  colno: number;
  value?: V;
  name?: Node;
  children?: Node<V>[];
}

/** A node class of nunjucks (`new nodes.Symbol(lineno, colno, value)`). */
export type NodeCtor = new (lineno: number, colno: number, ...fields: unknown[]) => Node;
