import { describeAdapter } from './adapter.contract.js';
import { makeRedisFixture } from './fixtures.js';

describeAdapter('Redis store (own key prefix, three connections)', () => makeRedisFixture('contract-redis'));
