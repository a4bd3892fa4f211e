// Shapes of the endpoints the web app uses, named after the server's wire
// types. Where the OpenAPI document has the type, it is taken from there
// (schema.d.ts, generated); the rest follow the issue-5 contract
// (docs/API.md) until the server documents them.
import type { Schemas } from './client'

export type Me = Schemas['MeResponse'] & {
  csrf_token?: string
  second_factor_required?: boolean
  must_enroll_totp?: boolean
  totp_enabled?: boolean
  corp?: { corpid: string; name: string; require_2fa: boolean; watermark: boolean }
}
export type SessionReply = Schemas['SessionResponse'] & {
  csrf_token?: string
  second_factor_required?: boolean
  must_enroll_totp?: boolean
}
export type Department = Schemas['DepartmentView']
export type Member = Schemas['MemberView']
export type Conversation = Schemas['ConversationView']
export type ConversationDetail = Schemas['ConversationDetail']
export type Entry = Omit<Schemas['EntryView'], 'content'> & { content?: unknown }
export type Range = Schemas['RangeView']

export interface TotpEnrollment {
  secret: string
  otpauth_uri: string
  qr_svg: string
}
export interface DeviceSession {
  id: string
  device: string
  user_agent: string
  ip: string
  signed_in_at: number
  last_seen: number
  current: boolean
}
export interface CorpSettings {
  corpid: string
  name: string
  plan: string
  require_2fa: boolean
  watermark: boolean
  rate_limits: { api_per_minute: number | null; sends_per_minute: number | null }
}
export interface AuditEntry {
  id: string | number
  at: number
  actor: string
  action: string
  target: string
  outcome: string
  ip: string
  detail: unknown
}
export interface Tag {
  tagid: number
  tagname: string
}
export interface AppView {
  agentid: number
  name: string
  description: string
  visible: Range
  callback: { url: string; token: string; encoding_aes_key: string } | null
  created_at: number
  secret?: string
}
export interface Delivery {
  id: string | number
  event: string
  at: number
  attempts: number
  status: 'pending' | 'delivered' | 'failed'
  last_error?: string
  http_status?: number
}
export interface ImportJob {
  job_id: string
  kind: string
  status: 'queued' | 'running' | 'done' | 'failed'
  total: number
  done: number
  created: number
  updated: number
  deleted: number
  failed: number
  rows?: { row: number; outcome: string; userid?: string; error?: string }[]
}
export type KindStats = Schemas['KindStatsView']
export type EscalationPolicy = Schemas['EscalationPolicyView']
