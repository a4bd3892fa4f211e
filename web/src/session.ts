// Who is signed in: `GET /me`, kept in one reactive object for the whole app.
import { computed, reactive } from 'vue'
import { api, ApiError, setCsrfToken } from './api/client'
import type { Me, SessionReply } from './api/contract'

export const session = reactive<{ me: Me | null; loaded: boolean }>({ me: null, loaded: false })

export const isAdmin = computed(() => !!session.me?.admin)
export const isSuperAdmin = computed(() => session.me?.admin?.role === 'super')

/** Loads `/me`; `null` when no session is live. */
export async function loadMe(): Promise<Me | null> {
  try {
    const me = await api.get<Me>('/me', { quiet401: true })
    setCsrfToken(me.csrf_token)
    session.me = me
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err
    session.me = null
  }
  session.loaded = true
  return session.me
}

export async function signIn(corpid: string, login: string, password: string): Promise<SessionReply> {
  const reply = await api.post<SessionReply>('/session', { corpid, login, password }, { quiet401: true })
  setCsrfToken(reply.csrf_token)
  await loadMe()
  return reply
}

export async function signOut(): Promise<void> {
  try {
    await api.delete('/session', undefined, { quiet401: true })
  } finally {
    forget()
  }
}

/** Drops what the app knew of the session (signed out elsewhere). */
export function forget(): void {
  session.me = null
  setCsrfToken(null)
}

/** Where a signed-in member must go before anything else, if anywhere. */
export function pendingGate(me: Me): string | null {
  if (me.must_change_password) return '/password'
  if (me.second_factor_required) return '/login/second-factor'
  if (me.must_enroll_totp) return '/security'
  return null
}
