/**
 * How a wait learns that its session ended. The waits themselves — of every
 * session, user and wall — are kept by `held-waits.ts`, which a logout (in
 * any process, on any host) reaches through the database's announcements.
 */

/**
 * The abort reason of a request whose wait a logout ended: it tells that
 * from a client leaving, which aborts the same signal.
 */
export const LOGGED_OUT = Symbol('logged out');
