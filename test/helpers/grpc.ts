/**
 * Real gRPC for the tests (@grpc/grpc-js + @grpc/proto-loader, no hand-built frames): an Echo
 * server on 127.0.0.1 port 0 whose behaviour a test can switch, and a client aimed at the sidecar
 * with the `:authority` the route matches.
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface Msg { text: string; n: number; pad?: Buffer }

const definition = protoLoader.loadSync([path.join(import.meta.dirname, 'echo.proto'), path.join(import.meta.dirname, 'health.proto')], { keepCase: true, longs: Number, enums: String, defaults: true });
const proto = grpc.loadPackageDefinition(definition) as unknown as {
  pilotfish: { test: { Echo: grpc.ServiceClientConstructor } };
  grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
};
export const EchoService = proto.pilotfish.test.Echo;
const HealthService = proto.grpc.health.v1.Health;

export type Mode = 'ok' | 'hang' | grpc.status;

export interface EchoServer {
  readonly name: string;
  readonly address: string;
  /** `ok`, `hang` (unary calls never answered), or a status every unary call fails with. */
  mode: Mode;
  /** Unary calls received. */
  calls: number;
  /** The text of the last unary call received. */
  lastText: string;
  /** Messages received by ClientStream and Bidi calls. */
  messages: number;
  /** ServerStream: messages written so far (accepted by `write`, possibly still buffered). */
  streamed: number;
  /** What `grpc.health.v1.Health/Check` answers for the Echo service. */
  serving: boolean;
  /** Health checks received. */
  healthChecks: number;
  /** ClientStream calls that ended cancelled (the caller's side reset the stream). */
  cancelled: number;
  close(): Promise<void>;
}

export async function startEchoServer(name: string): Promise<EchoServer> {
  const server = new grpc.Server();
  const state = { mode: 'ok' as Mode, calls: 0, lastText: '', messages: 0, streamed: 0, serving: true, healthChecks: 0, cancelled: 0 };
  server.addService(HealthService.service, {
    Check(call: grpc.ServerUnaryCall<{ service: string }, { status: string }>, cb: grpc.sendUnaryData<{ status: string }>) {
      state.healthChecks++;
      if (call.request.service !== '' && call.request.service !== 'pilotfish.test.Echo') { cb({ code: grpc.status.NOT_FOUND }); return; }
      cb(null, { status: state.serving ? 'SERVING' : 'NOT_SERVING' });
    },
  });
  server.addService(EchoService.service, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      state.calls++;
      state.lastText = call.request.text;
      if (state.mode === 'hang') return;
      const echo = call.metadata.get('x-echo');
      if (echo.length > 0) {
        const initial = new grpc.Metadata();
        initial.set('x-initial', `${String(echo[0])}-initial`);
        call.sendMetadata(initial);
      }
      if (state.mode !== 'ok') { cb({ code: state.mode, details: `${name} fails` }); return; }
      const trailers = new grpc.Metadata();
      if (echo.length > 0) trailers.set('x-trailer', `${String(echo[0])}-trailer`);
      cb(null, { text: `${name}:${call.request.text}`, n: call.request.n }, trailers);
    },
    ServerStream(call: grpc.ServerWritableStream<{ count: number; size: number }, Msg>) {
      const { count, size } = call.request;
      const pad = Buffer.alloc(size, 7);
      let i = 0;
      // Writes while the stream takes them and waits for 'drain' otherwise: the flow control under test.
      const pump = (): void => {
        while (i < count) {
          const ok = call.write({ text: name, n: i++, pad });
          state.streamed = i;
          if (!ok) { call.once('drain', pump); return; }
        }
        call.end();
      };
      call.on('cancelled', () => { i = count; });
      pump();
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      let sum = 0;
      let count = 0;
      call.on('data', (m: Msg) => { sum += m.n; count++; state.messages++; });
      call.on('cancelled', () => { state.cancelled++; });
      call.on('end', () => cb(null, { text: `${name}:${count}`, n: sum }));
    },
    Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
      call.on('data', (m: Msg) => { state.messages++; call.write({ text: `${name}:${m.text}`, n: m.n }); });
      call.on('end', () => call.end());
    },
    Hang() { /* never answers */ },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const echo: EchoServer = {
    name, address: `127.0.0.1:${port}`,
    get mode() { return state.mode; }, set mode(m: Mode) { state.mode = m; },
    get calls() { return state.calls; }, set calls(n: number) { state.calls = n; },
    get lastText() { return state.lastText; }, set lastText(t: string) { state.lastText = t; },
    get messages() { return state.messages; }, set messages(n: number) { state.messages = n; },
    get streamed() { return state.streamed; }, set streamed(n: number) { state.streamed = n; },
    get serving() { return state.serving; }, set serving(v: boolean) { state.serving = v; },
    get healthChecks() { return state.healthChecks; }, set healthChecks(n: number) { state.healthChecks = n; },
    get cancelled() { return state.cancelled; },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
  return echo;
}

export type EchoClient = grpc.Client & Record<string, (...args: any[]) => any>;

/** A client of the sidecar's port `port`, its calls for `authority` (what the route matches). */
export function echoClient(port: number, authority: string): EchoClient {
  return new EchoService(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority }) as unknown as EchoClient;
}

export interface UnaryResult { err: grpc.ServiceError | null; reply: Msg | undefined; metadata: grpc.Metadata | undefined; status: grpc.StatusObject | undefined }

/** One unary call; resolves with its error or reply and the metadata and status the client saw. */
export function unary(client: EchoClient, msg: Partial<Msg>, options: { metadata?: grpc.Metadata; deadlineMs?: number } = {}): Promise<UnaryResult> {
  return new Promise((resolve) => {
    const out: UnaryResult = { err: null, reply: undefined, metadata: undefined, status: undefined };
    let pending = 2;
    const finish = (): void => { if (--pending === 0) resolve(out); };
    const callOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
    const call = client.Unary({ text: '', n: 0, ...msg }, options.metadata ?? new grpc.Metadata(), callOptions, (err: grpc.ServiceError | null, reply: Msg) => {
      out.err = err;
      out.reply = reply;
      finish();
    }) as grpc.ClientUnaryCall;
    call.on('metadata', (m) => { out.metadata = m; });
    call.on('status', (s) => { out.status = s; finish(); });
  });
}

export { grpc };
