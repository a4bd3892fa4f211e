// The one way the app talks to /api/v1: fetch with the session cookie
// (never a token in storage), the CSRF header on unsafe methods, and errors
// as ApiError carrying the server's errcode.
import type { components } from './schema'

export type Schemas = components['schemas']

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: number,
    readonly errmsg: string,
    readonly body: Record<string, unknown>,
  ) {
    super(errmsg || `HTTP ${status}`)
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const CSRF_COOKIE = 'qiye_csrf'
let csrfToken = ''
let onSignedOut: (() => void) | null = null

/** Remembers the CSRF token the sign-in reply or `GET /me` gave. */
export function setCsrfToken(token: string | null | undefined): void {
  csrfToken = token ?? ''
}

/** Called when the server says the session is gone (401 on an authenticated call). */
export function onSessionEnded(handler: () => void): void {
  onSignedOut = handler
}

function csrfFromCookie(): string {
  const pair = document.cookie.split(';').map((c) => c.trim().split('=')).find(([k]) => k === CSRF_COOKIE)
  return pair ? decodeURIComponent(pair[1] ?? '') : ''
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined | null>
  /** A raw body (file upload) with its content type instead of JSON. */
  raw?: { body: Blob | ArrayBuffer | string; type: string }
  /** Do not call the signed-out handler on 401 (sign-in itself). */
  quiet401?: boolean
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  const url = `/api/v1${path}`
  if (!query) return url
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
  }
  const qs = params.toString()
  return qs ? `${url}?${qs}` : url
}

async function request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  let payload: BodyInit | undefined
  if (options.raw) {
    headers['Content-Type'] = options.raw.type
    payload = options.raw.body
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  if (UNSAFE.has(method)) {
    const token = csrfToken || csrfFromCookie()
    if (token) headers['X-CSRF-Token'] = token
  }
  const response = await fetch(buildUrl(path, options.query), {
    method,
    headers,
    body: payload,
    credentials: 'same-origin',
  })
  if (response.status === 204) return undefined as T
  const text = await response.text()
  let json: Record<string, unknown> = {}
  try {
    json = text ? JSON.parse(text) : {}
  } catch {
    json = { errmsg: text }
  }
  if (!response.ok || (typeof json.errcode === 'number' && json.errcode !== 0)) {
    const err = new ApiError(response.status, Number(json.errcode ?? -1), String(json.errmsg ?? ''), json)
    if (response.status === 401 && !options.quiet401 && onSignedOut) onSignedOut()
    throw err
  }
  return json as T
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, body ?? {}, options),
  put: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PUT', path, body ?? {}, options),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PATCH', path, body ?? {}, options),
  delete: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('DELETE', path, body, options),
}

/** Downloads a GET endpoint's answer as a file (exports). */
export async function download(path: string, query: RequestOptions['query'], fallbackName: string): Promise<void> {
  const response = await fetch(buildUrl(path, query), { credentials: 'same-origin' })
  if (!response.ok) {
    const json = await response.json().catch(() => ({}))
    throw new ApiError(response.status, Number(json.errcode ?? -1), String(json.errmsg ?? ''), json)
  }
  const disposition = response.headers.get('Content-Disposition') ?? ''
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName
  const url = URL.createObjectURL(await response.blob())
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
