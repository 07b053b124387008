export { dashboardRoutes } from './routes.ts';
export { SessionStore, type Session } from './SessionStore.ts';
export { SignInLimiter, SIGNIN_WINDOW_MS } from './SignInLimiter.ts';
export { SESSION_COOKIE } from './cookies.ts';
