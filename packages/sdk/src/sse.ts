// A minimal server-sent events reader (the WHATWG event-stream format):
// enough for the revocation feed, with no dependency.

/** One dispatched event of an event stream. */
export interface SSEEvent {
  id: string;
  event: string;
  data: string;
}

/**
 * Reads events from a byte stream. onLine is called for every line
 * (comments and heartbeats included) so a caller can watch for silence.
 */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (ev: SSEEvent) => void,
  onLine?: () => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let id = "";
  let event = "";
  let data: string[] = [];
  const line = (text: string) => {
    onLine?.();
    if (text === "") {
      if (data.length > 0) onEvent({ id, event: event || "message", data: data.join("\n") });
      id = "";
      event = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "id":
        id = value;
        break;
      case "event":
        event = value;
        break;
      case "data":
        data.push(value);
        break;
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        // A held-back \r ends its line; text after the last line end is
        // an incomplete line, dropped as the format says.
        if (buffer.endsWith("\r")) line(buffer.slice(0, -1));
        return;
      }
      buffer += decoder.decode(value, { stream: true });
      // Lines end in \n, \r\n or \r.
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const ch = buffer[i];
        if (ch !== "\n" && ch !== "\r") continue;
        if (ch === "\r" && i + 1 === buffer.length) break; // maybe \r\n split across chunks
        line(buffer.slice(start, i));
        if (ch === "\r" && buffer[i + 1] === "\n") i++;
        start = i + 1;
      }
      buffer = buffer.slice(start);
      if (buffer.length > 1 << 20) throw new Error("event stream line longer than 1 MiB");
    }
  } finally {
    reader.releaseLock();
  }
}
