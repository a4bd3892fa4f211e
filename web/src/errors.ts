import { ElMessage } from 'element-plus'
import { ApiError } from './api/client'
import { i18n } from './i18n'

/** Shows an API failure to the user (the server's errmsg, or a translated generic text). */
export function showError(err: unknown): void {
  const t = i18n.global.t
  if (err instanceof ApiError) {
    const text = err.status === 403 && err.errcode === 60011 ? t('errors.forbidden') : err.errmsg || t('errors.generic', { code: err.errcode })
    ElMessage.error({ message: `${text} [${err.errcode}]`, grouping: true })
  } else if (err instanceof TypeError) {
    ElMessage.error({ message: t('errors.network'), grouping: true })
  } else {
    ElMessage.error({ message: String(err), grouping: true })
  }
}

/** Runs an action and shows its failure; answers whether it succeeded. */
export async function attempt(action: () => Promise<unknown>): Promise<boolean> {
  try {
    await action()
    return true
  } catch (err) {
    showError(err)
    return false
  }
}

export function formatTime(ms: number | null | undefined): string {
  if (!ms) return ''
  const d = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}
