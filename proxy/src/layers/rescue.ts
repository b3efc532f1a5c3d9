// rescue: the one place where typed errors become HTTP responses (DESIGN.md "Sidecar"). Every
// proxy-made response carries `x-meshlet-error: <reason>` and the JSON MeshErrorBody.
import { MESH_ERROR_HEADER, REASON_HINTS, type MeshErrorBody } from '@meshlet/wire';
import { MeshError, toMeshError } from '../errors.ts';
import { encodeGrpcMessage, grpcStatusOf } from '../grpc.ts';
import type { Layer, ProxyRequest, ProxyResponse } from '../service.ts';

/**
 * Renders a MeshError as the response a user reads. For a gRPC request (`grpc`), `grpc-status` and
 * `grpc-message` (the reason, message and hint) say the same to a gRPC client.
 */
export function errorResponse(err: MeshError, traceId: string | null, grpc = false): ProxyResponse {
  const body: MeshErrorBody = {
    error: err.message,
    reason: err.reason,
    service: err.service,
    endpoint: err.endpoint,
    traceId,
    hint: REASON_HINTS[err.reason],
  };
  const bytes = Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {
    [MESH_ERROR_HEADER]: err.reason,
    'content-type': 'application/json',
    'content-length': String(bytes.length),
    'cache-control': 'no-store',
  };
  if (grpc) {
    headers['grpc-status'] = String(grpcStatusOf(err.reason, err.status));
    headers['grpc-message'] = encodeGrpcMessage(`meshlet ${err.reason}: ${err.message} (${body.hint})`);
  }
  return {
    status: err.status,
    headers,
    body: bytes,
    reason: err.reason,
    origin: 'proxy',
    endpoint: err.endpoint,
    faultInjected: err.faultInjected,
  };
}

/** Logs errors that are not MeshErrors (bugs) before they are answered as `upstream_reset`. */
export function rescue(onUnexpected: (err: unknown, req: ProxyRequest) => void): Layer {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (!(err instanceof MeshError)) onUnexpected(err, req);
      return errorResponse(toMeshError(err, req.service, req.endpoint), req.span?.traceId ?? null, req.grpc);
    }
  };
}
