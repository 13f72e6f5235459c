/** The target band, as the scheduler's modules import it (the definition lives in common). */
export { BAND } from '../common/definitions.js';
