// Agents this UI may talk to, as "host:port" (their HTTP API port). Empty: the agent that served
// the page (or 127.0.0.1:6768 when the page is opened as a file). The first one that answers is used.
globalThis.servers = [];
