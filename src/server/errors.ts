import type { FastifyReply } from 'fastify';

/** Every error body is `{"code","message"}`: Go's SDK parses exactly that when Content-Type is application/json. */
export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ code, message });
}
