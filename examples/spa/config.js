// Where the auth server runs. Its AUTH_CORS_ORIGINS must list this app's origin, and its
// AUTH_SITE_URL (or AUTH_REDIRECT_URLS) must allow this app's URL as a redirect_to.
export const AUTH_URL = 'http://localhost:9999';
// How often the app calls a protected endpoint with its access token (milliseconds).
export const CALL_EVERY_MS = 5000;
