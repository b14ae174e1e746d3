/** The part of npm:smtp-server (which ships no types) that the test fixture uses. */
export interface SmtpSession {
  envelope: { mailFrom: { address: string } | false; rcptTo: Array<{ address: string }> };
}
export interface SmtpStream {
  on(event: "data", fn: (chunk: Uint8Array) => void): void;
  on(event: "end", fn: () => void): void;
}
export interface SmtpServerOptions {
  authOptional?: boolean;
  disabledCommands?: string[];
  logger?: boolean;
  onData(stream: SmtpStream, session: SmtpSession, callback: (err?: Error) => void): void;
}
export class SMTPServer {
  constructor(opts: SmtpServerOptions);
  listen(port: number, host: string, cb: () => void): void;
  once(event: "error", fn: (err: Error) => void): void;
  close(cb: () => void): void;
}
