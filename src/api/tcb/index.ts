/** `/tcb`: the CloudBase endpoint that lets the official wx-server-sdk call datacube's open APIs. */
export { registerTcbRoute, TCB_ERROR_CODES, TCB_PATH, TcbRefusal, type TcbDeps, type TcbErrorCode, type TcbFault } from './route.ts';
export {
  API_TYPE_OPEN_API,
  decodeCommApiData,
  decodeCommOpenApiResp,
  encodeCommApiData,
  encodeCommOpenApiResp,
  JSON_RESP_CONTENT_TYPE,
  TcbFormatError,
  type DecodedApiData,
} from './proto.ts';
export { MAX_CLOCK_SKEW_MS, precheckTc3, verifyTc3, type Tc3Request, type Tc3Result } from './signature.ts';
