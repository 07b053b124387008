export { AuthService, TOKEN_OVERLAP_MS, type IssuedToken } from './AuthService.ts';
export { Sealer, hashToken, hashSecret, verifySecret, safeEqual, seededAppCredentials, APPID_PATTERN, SECRET_PATTERN, ENV_ID_PATTERN, envIdProblem } from './crypto.ts';
export { loadMasterKey } from './masterKey.ts';
export { publicApp, type PublicApp } from './publicApp.ts';
