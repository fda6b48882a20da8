// The storage conformance suite on the embedded SQLite.
import { storageConformance } from './conformance.ts';

storageConformance('sqlite');
