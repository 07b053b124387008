export { createServer, type ServerOptions } from './createServer.ts';
export { OPEN_APIS, type OpenApi } from './openApis.ts';
export { newRid } from './rid.ts';
