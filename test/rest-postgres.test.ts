// The /v1 REST contract for users and products, end to end on PostgreSQL (TEST_DATABASE_URL); with
// PORTICO_REQUIRE_SERVICES=1 a missing URL fails the run instead of skipping it.
import { storageKinds } from './helpers.ts';
import { restContract } from './rest-contract.ts';

if (storageKinds().includes('postgres')) restContract('postgres');
