// The storage conformance suite on PostgreSQL, when TEST_DATABASE_URL names one (required with PORTICO_REQUIRE_SERVICES=1).
import { storageKinds } from '../../test/helpers.ts';
import { storageConformance } from './conformance.ts';

if (storageKinds().includes('postgres')) storageConformance('postgres');
