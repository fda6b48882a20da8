// Error responses for route schemas: each status documents the one envelope (its examples are added to the
// OpenAPI document from the same table the handler uses).
import { Type } from 'typebox';

export const errorSchemaId = 'Error';

export function errorResponses(...statuses: number[]) {
  const responses: Record<number, ReturnType<typeof Type.Ref>> = {};
  for (const status of statuses) responses[status] = Type.Ref(errorSchemaId);
  return responses;
}
