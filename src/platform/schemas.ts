import Type, { type TSchema } from 'typebox';

/** RFC 9457 problem document, the body of every error response. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI reference identifying the problem type' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.String(),
    instance: Type.Optional(Type.String({ description: 'The request path' })),
    errorCode: Type.String({ description: 'Stable machine-readable code', examples: ['NOT_FOUND'] }),
    requestId: Type.String(),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), {
        description: 'One entry per invalid field',
      }),
    ),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details' },
);

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed or a field is invalid',
  401: 'Missing, invalid or expired credentials',
  403: 'The principal may not perform this operation',
  404: 'No such resource, or not visible to the principal',
  405: 'The method is not supported on this resource',
  408: 'The client paused sending the body for too long; nothing was stored',
  409: 'The request conflicts with the current state',
  413: 'The body is larger than allowed',
  415: 'The body has a media type this operation does not accept',
  416: 'The requested byte range is not satisfiable; Content-Range gives the size',
  422: 'The request is well-formed but its content is not acceptable',
  429: 'Too many requests; retry after the time given',
  503: 'A dependency is unavailable; retry after the time given',
};

/** A problem+json response entry for one status code. */
function problemResponse(code: number) {
  return {
    description: PROBLEM_DESCRIPTIONS[code] ?? 'Problem',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: Type.Ref('Problem') } },
  };
}

/** The error responses a route can give, spread into its `response` map. */
export function problemResponses<const Codes extends readonly number[]>(...codes: Codes) {
  const responses: Record<number, ReturnType<typeof problemResponse>> = {};
  for (const code of codes) responses[code] = problemResponse(code);
  return responses as Record<Codes[number], ReturnType<typeof problemResponse>>;
}

/** Query parameters of every paginated list. */
export const PageQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50, description: 'Items per page (1 to 200, default 50)' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Opaque cursor from a previous page' })),
});

/** A page of items and the cursor of the next page (absent on the last page). */
export function Page<Item extends TSchema>(item: Item, id: string) {
  return Type.Object(
    { items: Type.Array(item), nextCursor: Type.Optional(Type.String({ description: 'Pass as `cursor` to get the next page' })) },
    { $id: id },
  );
}
