import { describeAdapter } from './adapter.contract.js';
import { makePostgresFixture } from './fixtures.js';

describeAdapter('SQL store on PostgreSQL (own schema, two pools)', () => makePostgresFixture('contract-pg'));
