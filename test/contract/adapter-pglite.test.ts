import { describeAdapter } from './adapter.contract.js';
import { makePgliteFixture } from './fixtures.js';

describeAdapter('SQL store on PGlite (in memory)', () => makePgliteFixture());
