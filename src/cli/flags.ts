/** Flag names from option keys, so error messages name the flag the user typed (written once, in the config module). */
export { flagOf, listOf } from '../config.js';
