// The gRPC upstream of `npm run bench:grpc`: a real @grpc/grpc-js server of the tests' Echo service
// (test/helpers/echo.proto) on 127.0.0.1 port 0; prints its port on stdout.
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const definition = protoLoader.loadSync(path.join(import.meta.dirname, '../test/helpers/echo.proto'), { keepCase: true, defaults: true });
const Echo = grpc.loadPackageDefinition(definition).pilotfish.test.Echo;
const server = new grpc.Server();
server.addService(Echo.service, {
  Unary: (call, cb) => cb(null, { text: call.request.text, n: call.request.n }),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(port);
});
