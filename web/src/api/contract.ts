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
export type Tag = Schemas['TagView']
/** An app; `secret` only in the reply that creates it. */
export type AppView = Schemas['AppView'] & { secret?: string }
export type Delivery = Schemas['DeliveryView']
export type ImportJob = Schemas['ImportJobResponse']
export type KindStats = Schemas['KindStatsView']
export type EscalationPolicy = Schemas['EscalationPolicyView']
