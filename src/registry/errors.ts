import { StratumError } from '../util/errors.js';

/**
 * A registry refused or failed an operation. The message names the registry, repository and the
 * operation so users know what to fix (credentials, name, permissions).
 */
export class RegistryError extends StratumError {
  readonly registry: string;
  readonly repository: string | undefined;
  readonly operation: string;
  readonly status: number | undefined;
  readonly code: string | undefined;
  constructor(
    info: { registry: string; repository?: string; operation: string; status?: number; code?: string; detail?: string },
    options?: { cause?: unknown },
  ) {
    const where = info.repository ? `${info.registry}/${info.repository}` : info.registry;
    const what = info.status ? `${statusText(info.status)}` : 'failed';
    const detail = info.detail ? `: ${info.detail}` : '';
    super(`registry ${where}: ${info.operation} ${what}${detail}`, 1, options);
    this.name = 'RegistryError';
    this.registry = info.registry;
    this.repository = info.repository;
    this.operation = info.operation;
    this.status = info.status;
    this.code = info.code;
  }
}

function statusText(status: number): string {
  switch (status) {
    case 401:
      return 'refused: unauthorized (401)';
    case 403:
      return 'refused: forbidden (403)';
    case 404:
      return 'failed: not found (404)';
    case 416:
      return 'failed: range not satisfiable (416)';
    case 429:
      return 'failed: too many requests (429)';
    default:
      return `failed with HTTP ${status}`;
  }
}

/** Pulls `errors[0].code/message` out of a distribution-spec error body, if it is one. */
export function parseErrorBody(text: string): { code?: string; message?: string } {
  try {
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    const e = j.errors?.[0];
    if (e) return { ...(e.code ? { code: e.code } : {}), ...(e.message ? { message: e.message } : {}) };
  } catch {
    /* not JSON */
  }
  return {};
}
