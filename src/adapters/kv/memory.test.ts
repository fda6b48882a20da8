import { keyValueConformance } from './conformance.ts';
import { memoryKeyValue } from './memory.ts';

keyValueConformance('memory', async (nowMs) => memoryKeyValue(nowMs));
