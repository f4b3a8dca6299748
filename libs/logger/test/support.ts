// The logger's own tests use the capturing logger every package's tests share.
export { capturingLogger } from '../../../test/support/capturing-logger.js';
