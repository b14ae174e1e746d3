/** A real SMTP server on loopback for handler tests (npm:smtp-server), recording each message. */
// @ts-types="./smtp_server_types.d.ts"
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  subject: string;
  body: string;
}

export class SmtpFixture {
  readonly mails: ReceivedMail[] = [];
  #server: SMTPServer | null = null;
  constructor(readonly host: string, readonly port: number) {}

  async start(): Promise<void> {
    const mails = this.mails;
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, session, cb) {
        let raw = "";
        stream.on("data", (c: Uint8Array) => raw += new TextDecoder().decode(c));
        stream.on("end", () => {
          const [head, ...rest] = raw.split("\r\n\r\n");
          const subject = /^Subject: (.*)$/m.exec(head)?.[1] ?? "";
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            subject: subject.trim(),
            body: rest.join("\r\n\r\n").replaceAll("\r\n", "\n"),
          });
          cb();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.#server!.once("error", reject);
      this.#server!.listen(this.port, this.host, () => resolve());
    });
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
