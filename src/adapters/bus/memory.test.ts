// The in-process event bus against the conformance suite.
import { busConformance } from './conformance.ts';
import { memoryBus } from './memory.ts';

busConformance('in-process bus', { make: async () => memoryBus() });
