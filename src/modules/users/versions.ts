// Users as v2 shows them: `name` is `fullName`, and `location` is `{ city, country }` instead of one string. The
// internal model keeps v1's terms; these transforms map between the two. The stored string is `City` or
// `City, Country`, split at its last ", ": so a country holds no comma, and a city holds ", " only with a country
// beside it, which keeps every v2 location the same when read back through either version.
import type { FastifyRequest } from 'fastify';
import { type TObject, Type } from 'typebox';
import type { ErrorBody, VersionTransform } from '../../edge/versioning.ts';
import { invalid } from '../../kernel/errors.ts';
import { Links, Nullable } from '../../kernel/schemas.ts';
import { UserFields, type UserRecord, userSortFields } from './schema.ts';

const noNul = '^[^\\u0000]*$';

interface LocationV2 {
  city: string;
  country: string | null;
}

function locationV2(text: string | null): LocationV2 | null {
  if (text === null) return null;
  const at = text.lastIndexOf(', ');
  return at < 0 ? { city: text, country: null } : { city: text.slice(0, at), country: text.slice(at + 2) };
}

/** City and country lengths: together, with the ", " between them, within the 200 characters of v1's string. */
const maxCity = 150;
const maxCountry = 48;

const text = (field: string, value: unknown, maxLength: number): string => {
  if (typeof value !== 'string') throw invalid(field, 'INVALID_TYPE', `${field} must be string.`);
  if (value.trim() === '') throw invalid(field, 'TOO_SHORT', `${field} must not be empty.`);
  if (value.length > maxLength) throw invalid(field, 'TOO_LONG', `${field} must not be longer than ${maxLength}.`);
  return value;
};

/** A v2 location as the stored string; `current` is what a merge patch applies to. */
function locationV1(value: unknown, field: string, current: LocationV2 | null): string | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(field, 'INVALID_TYPE', `${field} must be an object { city, country } or null.`);
  }
  const changes = value as Record<string, unknown>;
  for (const key of Object.keys(changes)) {
    if (key !== 'city' && key !== 'country') {
      throw invalid(`${field}.${key}`, 'UNKNOWN_FIELD', `${field} has only city and country.`);
    }
  }
  const merged = { ...(current ?? {}), ...changes };
  if (merged.city === undefined || merged.city === null) {
    throw invalid(`${field}.city`, 'REQUIRED', `${field}.city is required.`);
  }
  const city = text(`${field}.city`, merged.city, maxCity);
  const country =
    merged.country === undefined || merged.country === null
      ? null
      : text(`${field}.country`, merged.country, maxCountry);
  if (country?.includes(',')) {
    throw invalid(`${field}.country`, 'INVALID_FORMAT', `${field}.country must not contain a comma.`);
  }
  if (country === null && city.includes(', ')) {
    throw invalid(`${field}.city`, 'INVALID_FORMAT', `${field}.city may contain ", " only when a country is given.`);
  }
  return country === null ? city : `${city}, ${country}`;
}

/** A v2 body of POST, PUT or PATCH in the internal model's terms; `current` is the stored user a PATCH merges into. */
function userBodyV1(body: unknown, prefix: string, current: UserRecord | null): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const { fullName, name, location, ...rest } = body as Record<string, unknown>;
  if (name !== undefined) throw invalid(`${prefix}name`, 'UNKNOWN_FIELD', `${prefix}name is called fullName in v2.`);
  return {
    ...rest,
    ...(fullName === undefined ? {} : { name: fullName }),
    ...(location === undefined
      ? {}
      : { location: locationV1(location, `${prefix}location`, current ? locationV2(current.location) : null) }),
  };
}

/** The v2 name of a field a list may sort by or a sparse fieldset may name, and back; v1's `name` is not one. */
const fieldV2 = (field: string) => (field === 'name' ? 'fullName' : field);
function fieldV1(parameter: string, field: string): string {
  if (field === 'name') throw invalid(parameter, 'INVALID_VALUE', `${parameter} names name, which v2 calls fullName.`);
  return field === 'fullName' ? 'name' : field;
}

const userRoutes = new Set(['/v1/users', '/v1/users/:id', '/v1/users/batch']);

const isUser = (value: Record<string, unknown>): boolean =>
  typeof value.id === 'string' && value.id.startsWith('usr_') && '_links' in value;

export function usersV2(get: (id: string) => Promise<UserRecord>): VersionTransform {
  return {
    version: 'v2',
    async request(request: FastifyRequest) {
      const route = request.routeOptions.url ?? '';
      if (!userRoutes.has(route)) return;
      const query = request.query as Record<string, unknown> | undefined;
      if (query) {
        const changed = { ...query };
        if (typeof query.sort === 'string') changed.sort = fieldV1('sort', query.sort);
        if (typeof query.fields === 'string') {
          changed.fields = query.fields
            .split(',')
            .map((field) => fieldV1('fields', field))
            .join(',');
        }
        request.query = changed;
      }
      if (request.method === 'POST' && route === '/v1/users/batch') {
        const body = request.body as { items?: unknown };
        if (body && Array.isArray(body.items)) {
          request.body = { ...body, items: body.items.map((item, index) => userBodyV1(item, `items.${index}.`, null)) };
        }
      } else if (request.method === 'PATCH') {
        const { id } = request.params as { id: string };
        const location = (request.body as { location?: unknown } | null)?.location;
        // A merge patch of part of a location (only the city) keeps the rest of the stored one (RFC 7396).
        const current = location && typeof location === 'object' ? await get(id) : null;
        request.body = userBodyV1(request.body, '', current);
      } else if (request.method === 'POST' || request.method === 'PUT') {
        request.body = userBodyV1(request.body, '', null);
      }
    },
    represent(value) {
      if (!isUser(value)) return value;
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) =>
          key === 'name'
            ? ['fullName', item]
            : key === 'location' && typeof item === 'string'
              ? ['location', locationV2(item)]
              : [key, item],
        ),
      );
    },
    document(document) {
      const plain = (schema: unknown) => JSON.parse(JSON.stringify(schema));
      const schemas = document.components?.schemas ?? {};
      schemas.User = { ...plain(userSchemasV2.User), title: 'User' };
      schemas.UserSparse = {
        ...plain(userSchemasV2.User),
        title: 'UserSparse',
        required: ['id', '_links'],
        description: 'User with only the fields named in `fields`.',
      };
      const setBody = (
        operation: { requestBody?: { content?: Record<string, { schema: unknown }> } } | undefined,
        schema: unknown,
      ) => {
        for (const media of Object.values(operation?.requestBody?.content ?? {})) media.schema = plain(schema);
      };
      const collection = document.paths?.['/v2/users'];
      const item = document.paths?.['/v2/users/{id}'];
      setBody(collection?.post, userSchemasV2.create);
      setBody(item?.put, userSchemasV2.create);
      setBody(item?.patch, userSchemasV2.patch);
      const batch = document.paths?.['/v2/users/batch']?.post?.requestBody?.content?.['application/json']?.schema;
      if (batch?.properties?.items) batch.properties.items.items = plain(userSchemasV2.create);
      for (const parameter of collection?.get?.parameters ?? []) {
        if (parameter.name === 'sort') parameter.schema = { ...parameter.schema, enum: userSchemasV2.sortFields };
      }
    },
    error(request: FastifyRequest, error: ErrorBody) {
      if (!userRoutes.has(request.routeOptions.url ?? '')) return;
      const words = (text: string) => text.replace(/\bname\b/g, 'fullName');
      // v1's own check of a renamed field; an UNKNOWN_FIELD `name` is v2's refusal of the v1 name, kept as sent.
      const named = error.details.filter(
        (detail) => /(^|\.)name$/.test(detail.field) && (detail as { code?: string }).code !== 'UNKNOWN_FIELD',
      );
      for (const detail of named) {
        detail.field = detail.field.replace(/name$/, 'fullName');
        detail.message = words(detail.message);
      }
      if (named.length > 0) error.message = words(error.message);
    },
  };
}

const location = Nullable(
  Type.Object(
    {
      city: Type.String({ minLength: 1, maxLength: maxCity, pattern: noNul, examples: ['London'] }),
      country: Nullable(
        Type.String({ minLength: 1, maxLength: maxCountry, pattern: '^[^,\\u0000]*$', examples: ['UK'] }),
      ),
    },
    { additionalProperties: false },
  ),
);

const { id, email, name, role, status, createdAt, updatedAt } = UserFields;
const fieldsV2 = { id, email, fullName: name, role, status, location, createdAt, updatedAt };

/** v2's schemas, for its OpenAPI document: the representation, its sparse variant, the bodies and the sort fields. */
export const userSchemasV2 = {
  User: Type.Object({ ...fieldsV2, _links: Links }, { additionalProperties: false }) as TObject,
  create: Type.Object(
    {
      email: UserFields.email,
      fullName: name,
      role: Type.Optional(UserFields.role),
      status: Type.Optional(UserFields.status),
      location: Type.Optional(location),
    },
    { additionalProperties: false, title: 'UserCreate' },
  ) as TObject,
  patch: Type.Object(
    {
      email: Type.Optional(UserFields.email),
      fullName: Type.Optional(name),
      role: Type.Optional(UserFields.role),
      status: Type.Optional(UserFields.status),
      location: Type.Optional(location),
    },
    { additionalProperties: false, title: 'UserPatch' },
  ) as TObject,
  sortFields: userSortFields.map(fieldV2),
};
