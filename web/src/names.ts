// Display names of members, looked up once through the directory (what the
// viewer may see); an unknown or hidden member shows as their userid.
import { reactive } from 'vue'
import { api } from './api/client'
import type { Member } from './api/contract'

const names = reactive<Record<string, string>>({})
const asked = new Set<string>()

export function nameOf(userid: string): string {
  if (!userid) return ''
  if (!asked.has(userid)) {
    asked.add(userid)
    api
      .get<Member>(`/directory/members/${encodeURIComponent(userid)}`)
      .then((m) => (names[userid] = m.name))
      .catch(() => undefined)
  }
  return names[userid] ?? userid
}

export function rememberName(userid: string, name: string): void {
  asked.add(userid)
  names[userid] = name
}
