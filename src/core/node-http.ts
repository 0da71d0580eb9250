/**
 * node:http, loaded with `require`. An ES `import` of node:http builds its module namespace by
 * reading every export, and three of them (`WebSocket`, `CloseEvent`, `MessageEvent`) are lazy
 * getters that load Node's bundled undici with its fetch and WebSocket implementation — measured on
 * Node 24.21: +16.6 MB of RSS, and its compile on the startup path — for a WebSocket client nothing
 * here uses. Every module of ours takes node:http from here; type-only imports of 'node:http' are
 * erased and cost nothing.
 */
import { createRequire } from 'node:module';
import type * as Http from 'node:http';

const http: typeof Http = createRequire(import.meta.url)('node:http');
export default http;
