// The /v1 REST contract for users and products, end to end on SQLite.
import { restContract } from './rest-contract.ts';

restContract('sqlite');
