/** A TCP port on 127.0.0.1 that nobody listens on right now: the product's helper, for the tests. */
export { freePort } from '../../../common/free-port.js';
