// End-to-end: the web app in Debian's Chromium against a real `qiye serve`.
// The steps build on each other (one corp, one server), in order.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { DESKTOP, PHONE, changePassword, launchBrowser, screenshot, signIn, startServer, totp } from './harness.mjs'

const ADMIN_PASSWORD = 'Admin-pass-2024!'
const MEMBER_PASSWORD = 'Zhang-pass-2024!'
let server
let browser
let admin // the administrator's page (zh-CN, 1280x800)
let member // zhangsan's page (en, 1280x800)
let engineeringId
let zhangsanOneTime
let lastTotp = ''

before(async () => {
  server = await startServer()
  browser = await launchBrowser()
})

after(async () => {
  await browser?.close()
  await server?.stop()
})

/** Polls a condition until it gives a value (the page updates asynchronously). */
async function until(probe, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(100)
  }
}

/** Calls /api/v1 from a page, as the app does (its cookie, the CSRF header). */
async function apiCall(page, method, path, body) {
  return page.evaluate(
    async ([method, path, body]) => {
      const csrf = document.cookie.split(';').map((c) => c.trim().split('=')).find(([k]) => k === 'qiye_csrf')?.[1] ?? ''
      const response = await fetch(`/api/v1${path}`, {
        method,
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': decodeURIComponent(csrf) },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: response.status, body: await response.text() }
    },
    [method, path, body],
  )
}

async function newPage(viewport, locale) {
  const context = await browser.newContext({ viewport, locale })
  context.setDefaultTimeout(15_000)
  return context.newPage()
}

/** A code for the current time step that has not been used yet (servers refuse a replayed code). */
async function freshTotp(secret) {
  let code = totp(secret)
  while (code === lastTotp) {
    await sleep(1000)
    code = totp(secret)
  }
  lastTotp = code
  return code
}

test('sign in with the one-time password and change it', async () => {
  const phone = await newPage(PHONE, 'zh-CN')
  await phone.goto(server.url)
  await phone.waitForURL(/\/login/)
  await screenshot(phone, 'signin-390')
  await phone.context().close()

  admin = await newPage(DESKTOP, 'zh-CN')
  await admin.goto(server.url)
  await admin.waitForURL(/\/login/)
  await screenshot(admin, 'signin-1280')
  await signIn(admin, server, server.admin, 'not-the-password')
  await admin.locator('[data-test=signin-error]').waitFor()
  await signIn(admin, server, server.admin, server.password)
  await screenshot(admin, 'password-forced-1280')
  await changePassword(admin, server.password, ADMIN_PASSWORD)
  await admin.waitForURL(/\/chat/)
  assert.equal(await admin.locator('html').getAttribute('lang'), 'zh-CN')
  await admin.locator('[data-test=corp-name]').waitFor()
  // The one-time password is spent.
  const again = await admin.evaluate(
    async ([corpid, login, password]) =>
      (await fetch('/api/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ corpid, login, password }) })).status,
    [server.corpid, server.admin, server.password],
  )
  assert.equal(again, 401)
})

test('the language follows the browser and can be switched', async () => {
  const page = await newPage(DESKTOP, 'en-US')
  await page.goto(new URL('/login', server.url).href)
  assert.equal(await page.locator('[data-test=submit]').innerText(), 'Sign in')
  await page.locator('[data-test=lang]').click()
  await page.locator('.el-select-dropdown__item', { hasText: '中文' }).click()
  assert.equal(await page.locator('[data-test=submit]').innerText(), '登录')
  await page.reload()
  assert.equal(await page.locator('[data-test=submit]').innerText(), '登录')
  await page.context().close()
})

test('enrol TOTP, then sign in with the second factor', async () => {
  await admin.goto(new URL('/security', server.url).href)
  await admin.locator('[data-test=totp-enroll]').click()
  const secret = (await admin.locator('[data-test=totp-secret]').innerText()).trim()
  assert.match(secret, /^[A-Z2-7]+=*$/)
  await admin.locator('[data-test=totp-qr]').waitFor()
  await screenshot(admin, 'totp-enrol-1280')
  await admin.locator('[data-test=totp-confirm-code]').fill(await freshTotp(secret))
  await admin.locator('[data-test=totp-confirm]').click()
  const codes = admin.locator('[data-test=recovery-codes] li')
  await codes.first().waitFor()
  assert.equal(await codes.count(), 10)
  await screenshot(admin, 'recovery-codes-1280')
  await admin.locator('[data-test=recovery-done]').click()

  await admin.locator('[data-test=user-menu]').click()
  await admin.locator('[data-test=sign-out]').click()
  await admin.waitForURL(/\/login/)
  await signIn(admin, server, server.admin, ADMIN_PASSWORD)
  await admin.waitForURL(/\/login\/second-factor/)
  await admin.locator('[data-test=totp-code]').fill('000000' === totp(secret) ? '111111' : '000000')
  await admin.locator('[data-test=verify]').click()
  await admin.locator('[data-test=second-factor-error]').waitFor()
  await admin.locator('[data-test=totp-code]').fill(await freshTotp(secret))
  await admin.locator('[data-test=verify]').click()
  await admin.waitForURL(/\/chat/)

  await admin.goto(new URL('/security', server.url).href)
  const devices = admin.locator('[data-test=devices] .el-table__row')
  await devices.first().waitFor()
  assert.ok((await devices.count()) >= 1)
  await screenshot(admin, 'security-devices-1280')
})

test('create a department and a member', async () => {
  await admin.goto(new URL('/admin/departments', server.url).href)
  await admin.locator('[data-test=dept-add]').first().click()
  await admin.locator('[data-test=dept-name]').fill('Engineering')
  await admin.locator('[data-test=dept-save]').click()
  const node = admin.locator('[data-test=admin-dept-tree] [data-dept]', { hasText: 'Engineering' })
  await node.waitFor()
  engineeringId = Number(await node.getAttribute('data-dept'))
  assert.ok(engineeringId > 1)
  await screenshot(admin, 'admin-departments-1280')

  await admin.goto(new URL('/admin/members', server.url).href)
  await admin.locator('[data-test=member-add]').click()
  await admin.locator('[data-test=member-userid]').fill('zhangsan')
  await admin.locator('[data-test=member-name]').fill('张三')
  await admin.locator('[data-test=member-mobile]').fill('13800000001')
  await admin.locator('.el-dialog:visible .el-select').first().click()
  await admin.locator('.el-select-dropdown__item:visible', { hasText: 'Engineering' }).click()
  await admin.locator('[data-test=member-name]').click()
  await admin.locator('[data-test=member-save]').click()
  const row = admin.locator('[data-test=member-table] .el-table__row', { hasText: 'zhangsan' })
  await row.waitFor()
  assert.match(await row.innerText(), /Engineering/)
  await screenshot(admin, 'admin-members-1280')

  await admin.locator('[data-test=member-more-zhangsan]').click()
  await admin.locator('[data-test=member-reset]:visible').click()
  await admin.locator('.el-message-box__btns .el-button--primary').click()
  const text = await admin.locator('[data-test=one-time-password]').innerText()
  zhangsanOneTime = text.split(/[:：]\s*/).pop().trim()
  assert.ok(zhangsanOneTime.length >= 10, text)
  await admin.locator('.el-dialog:visible .el-button--primary').click()

  // A colleague for the group chat and the scoped administrator's view.
  const created = await apiCall(admin, 'POST', '/admin/members', { userid: 'lisi', name: '李四', department: [engineeringId] })
  assert.equal(created.status, 204, created.body)
})

test('import a CSV and read the report', async () => {
  await admin.goto(new URL('/admin/import', server.url).href)
  const csv = [
    '姓名,帐号,职务,部门,手机',
    '王五,wangwu,工程师,Engineering,13800000002',
    '赵六,zhaoliu,测试,Engineering/QA,13800000003',
    '坏行,bad row!,,Engineering,not-a-mobile',
  ].join('\n')
  await admin.locator('[data-test=import-file]').setInputFiles({ name: 'members.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
  await admin.locator('[data-test=import-start]').click()
  const report = admin.locator('[data-test=import-report] .el-table__row')
  await report.first().waitFor({ timeout: 30_000 })
  assert.equal(await report.count(), 3)
  const summary = await admin.locator('[data-test=import-summary]').innerText()
  assert.match(summary, /done/)
  assert.match(await report.filter({ hasText: 'wangwu' }).innerText(), /created/)
  assert.match(await report.filter({ hasText: 'error' }).innerText(), /error/)
  await screenshot(admin, 'admin-import-1280')
})

test('two members chat live: messages and read receipts', async () => {
  member = await newPage(DESKTOP, 'en-US')
  await signIn(member, server, 'zhangsan', zhangsanOneTime)
  await changePassword(member, zhangsanOneTime, MEMBER_PASSWORD)
  await member.waitForURL(/\/chat/)

  // The administrator finds zhangsan in the directory and writes to him.
  await admin.goto(new URL('/contacts', server.url).href)
  await admin.locator('[data-test=contacts-search]').fill('张三')
  await admin.locator('[data-test=contacts-search]').press('Enter')
  await admin.locator('[data-test=member-list] li', { hasText: '张三' }).click()
  await admin.locator('[data-test=profile-card]').waitFor()
  await screenshot(admin, 'contacts-profile-1280')
  await admin.locator('[data-test=message-member]').click()
  await admin.waitForURL(/\/chat\/.+/)
  await admin.locator('[data-test=composer]').fill('你好，张三')
  await admin.locator('[data-test=send]').click()
  const mine = admin.locator('[data-test=message]', { hasText: '你好，张三' })
  await mine.waitFor()
  assert.match(await mine.locator('[data-test=receipt]').innerText(), /未读/)

  // zhangsan sees it arrive live, with an unread badge, and reads it.
  const conv = member.locator('[data-test=conversations] li').first()
  await conv.locator('.el-badge__content', { hasText: '1' }).waitFor({ timeout: 15_000 })
  await screenshot(member, 'chat-unread-1280')
  await conv.click()
  await member.locator('[data-test=message]', { hasText: '你好，张三' }).waitFor()

  // ... and the administrator's receipt turns to read without a reload.
  await mine.locator('[data-test=receipt]', { hasText: '已读' }).waitFor({ timeout: 15_000 })

  await member.locator('[data-test=composer]').fill('Hello! Got it.')
  await member.locator('[data-test=composer]').press('Enter')
  await admin.locator('[data-test=message]', { hasText: 'Hello! Got it.' }).waitFor({ timeout: 15_000 })
  // A picture: uploaded, sent, previewed on the other side.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAKElEQVR42mNkYPhfz0AEYBxVSF+FjP8ZGBgYGJiYmBgYRhWOKqSvQgAJ3wMR2cOdUwAAAABJRU5ErkJggg==',
    'base64',
  )
  const [chooser] = await Promise.all([admin.waitForEvent('filechooser'), admin.locator('[data-test=attach-image]').click()])
  await chooser.setFiles({ name: 'dot.png', mimeType: 'image/png', buffer: png })
  await member.locator('[data-test=message] [data-test=image] img').waitFor({ timeout: 15_000 })
  const loaded = await member.locator('[data-test=message] [data-test=image] img').evaluate((img) => img.complete && img.naturalWidth > 0)
  assert.ok(loaded, 'the picture is served to the other member')

  // A recalled message disappears for both.
  await admin.locator('[data-test=composer]').fill('发错了')
  await admin.locator('[data-test=send]').click()
  await member.locator('[data-test=message]', { hasText: '发错了' }).waitFor()
  await admin.locator('[data-test=message]', { hasText: '发错了' }).locator('[data-test=recall]').click()
  await admin.locator('.el-message-box__btns .el-button--primary').click()
  await member.locator('[data-test=message]', { hasText: '发错了' }).waitFor({ state: 'detached' })
  await member.locator('[data-test=recalled]').waitFor()
  await screenshot(admin, 'chat-direct-1280')
  await screenshot(member, 'chat-direct-member-1280')

  // A group: receipts list who has read.
  await admin.locator('[data-test=new-group]').click()
  await admin.locator('[data-test=group-name]').fill('项目组')
  const picker = admin.locator('.el-dialog:visible .el-select')
  for (const name of ['张三', '李四']) {
    await picker.locator('input').fill(name)
    await admin.locator('.el-select-dropdown__item:visible', { hasText: name }).click()
  }
  await admin.locator('[data-test=group-name]').click()
  await admin.locator('[data-test=create-group]').click()
  await admin.locator('[data-test=conv-title]', { hasText: '项目组' }).waitFor()
  // A mention picked from the members after typing @.
  await admin.locator('[data-test=composer]').fill('明天十点开会 @')
  await admin.locator('[data-test=composer]').dispatchEvent('input')
  await admin.locator('[data-test=mention-list] .mention-item', { hasText: '李四' }).click()
  await admin.locator('[data-test=send]').click()
  const groupMsg = admin.locator('[data-test=message]', { hasText: '明天十点开会 @李四' })
  await groupMsg.locator('[data-test=receipt]', { hasText: '2 人未读' }).waitFor()
  await member.locator('[data-test=conversations] li', { hasText: '项目组' }).click()
  await member.locator('[data-test=message]', { hasText: '明天十点开会' }).waitFor()
  await groupMsg.locator('[data-test=receipt]', { hasText: '1 人未读' }).waitFor({ timeout: 15_000 })
  await groupMsg.locator('[data-test=receipt]').click()
  const list = admin.locator('[data-test=receipt-list]:visible')
  await list.waitFor()
  await list.getByText('张三').waitFor()
  await screenshot(admin, 'chat-group-receipts-1280')

  // Phone width: the list, then the conversation.
  const phone = await newPage(PHONE, 'zh-CN')
  await signIn(phone, server, 'zhangsan', MEMBER_PASSWORD)
  await phone.waitForURL(/\/chat/)
  await phone.locator('[data-test=conversations] li').first().waitFor()
  await screenshot(phone, 'chat-list-390')
  await phone.locator('[data-test=conversations] li', { hasText: '项目组' }).click()
  await phone.locator('[data-test=message]', { hasText: '明天十点开会' }).waitFor()
  await screenshot(phone, 'chat-conversation-390')
  await phone.context().close()
})

test('app messages, a task card, an urgent banner and the statistics', async () => {
  const created = JSON.parse(server.cli('app', 'create', '--corpid', server.corpid, '--name', 'OA', '--all-visible', '--json'))
  const gettoken = await fetch(new URL(`/cgi-bin/gettoken?corpid=${server.corpid}&corpsecret=${created.secret}`, server.url))
  const token = (await gettoken.json()).access_token
  const send = async (body) => {
    const reply = await (await fetch(new URL(`/cgi-bin/message/send?access_token=${token}`, server.url), { method: 'POST', body: JSON.stringify(body) })).json()
    assert.equal(reply.errcode, 0, JSON.stringify(reply))
  }
  await member.goto(new URL('/chat', server.url).href)
  await send({ touser: 'zhangsan', msgtype: 'text', agentid: created.agentid, text: { content: '本周五全员大会' }, kind: 'announcement' })
  await send({
    touser: 'zhangsan', msgtype: 'template_card', agentid: created.agentid, kind: 'approval',
    template_card: {
      card_type: 'button_interaction', task_id: 'po-1', main_title: { title: '采购申请', desc: '¥12,000' },
      button_list: [{ text: '同意', style: 1, key: 'approve' }, { text: '驳回', style: 2, key: 'reject' }],
    },
  })
  // The app's inbox appears live in the same list; the card's button works.
  const inbox = member.locator('[data-test=conversations] li', { hasText: String(created.agentid) })
  await inbox.click()
  await member.locator('[data-test=message]', { hasText: '本周五全员大会' }).waitFor()
  const card = member.locator('[data-test=task-card]', { hasText: '采购申请' })
  await card.locator('[data-test=card-button]', { hasText: '同意' }).click()
  await card.locator('[data-test=card-done]', { hasText: '同意' }).waitFor()
  await until(async () => (await inbox.locator('.el-badge__content:visible').count()) === 0) // read
  await screenshot(member, 'chat-app-card-1280')

  // An urgent message from the administrator: a banner until acknowledged.
  await admin.goto(new URL('/chat', server.url).href)
  await admin.locator('[data-test=conversations] li', { hasText: '张三' }).click()
  await admin.locator('[data-test=urgent-toggle]').click()
  await admin.locator('[data-test=composer]').fill('服务器告警，请立即处理')
  await admin.locator('[data-test=send]').click()
  const banner = member.locator('[data-test=urgent-banner]', { hasText: '服务器告警' })
  await banner.waitFor()
  await screenshot(member, 'chat-urgent-1280')
  await banner.locator('[data-test=acknowledge]').click()
  await banner.waitFor({ state: 'detached' })

  // The statistics count the app messages, drawn as charts.
  await admin.goto(new URL('/admin/stats', server.url).href)
  await admin.locator('[data-test=chart-read] canvas').waitFor()
  await admin.locator('[data-test=chart-response] canvas').waitFor()
  await screenshot(admin, 'admin-stats-1280')
})

test('corp settings put the watermark over chat pages', async () => {
  await admin.goto(new URL('/admin/corp', server.url).href)
  const toggle = admin.locator('[data-test=watermark-switch]')
  await toggle.waitFor()
  if ((await toggle.getAttribute('aria-checked')) !== 'true') await toggle.click()
  await admin.locator('[data-test=corp-save]').click()
  await admin.locator('.el-message--success').waitFor()
  await member.goto(new URL('/chat', server.url).href)
  const mark = member.locator('[data-test=watermark]')
  await mark.waitFor({ state: 'attached' })
  assert.equal(await mark.getAttribute('data-text'), '张三 zhangsan')
  const style = await mark.evaluate((el) => {
    const css = getComputedStyle(el)
    return { pointer: css.pointerEvents, select: css.userSelect, image: css.backgroundImage }
  })
  assert.deepEqual([style.pointer, style.select], ['none', 'none'])
  assert.match(style.image, /^url\("data:image\/png/)
  await screenshot(member, 'chat-watermark-1280')
  // Not on other pages.
  await member.goto(new URL('/contacts', server.url).href)
  await member.locator('[data-test=dept-tree]').waitFor()
  assert.equal(await member.locator('[data-test=watermark]').count(), 0)
})

test('devices: list them and sign one out remotely', async () => {
  const other = await newPage(PHONE, 'zh-CN')
  await signIn(other, server, 'zhangsan', MEMBER_PASSWORD)
  await other.waitForURL(/\/chat/)
  await member.goto(new URL('/security', server.url).href)
  const rows = member.locator('[data-test=devices] .el-table__row')
  await until(async () => (await rows.count()) >= 2)
  await screenshot(member, 'security-devices-member-1280')
  // Sign out every device but this one: the phone is sent back to sign-in.
  const count = await rows.count()
  for (let i = count - 1; i >= 0; i--) {
    const row = rows.nth(i)
    if ((await row.innerText()).match(/current|当前设备|This device/)) continue
    await row.locator('button').click()
  }
  await until(async () => (await rows.count()) === 1)
  await other.goto(new URL('/chat', server.url).href)
  await other.waitForURL(/\/login/)
  await other.context().close()
})

test('a scoped administrator sees only their scope', async () => {
  server.cli('admin', 'grant', '--corpid', server.corpid, '--userid', 'zhangsan', '--scope', `dept:${engineeringId}`)
  await member.goto(new URL('/admin/members', server.url).href)
  const rows = member.locator('[data-test=member-table] .el-table__row')
  await rows.filter({ hasText: 'zhangsan' }).waitFor()
  const text = await member.locator('[data-test=member-table]').innerText()
  assert.doesNotMatch(text, new RegExp(`\\b${server.admin}\\b`))
  assert.match(text, /lisi/)
  await screenshot(member, 'scoped-admin-members-1280')

  await member.goto(new URL('/admin/departments', server.url).href)
  const nodes = member.locator('[data-test=admin-dept-tree] [data-dept]')
  await nodes.first().waitFor()
  const ids = await nodes.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-dept'))))
  assert.ok(!ids.includes(1), `the root is outside the scope: ${ids}`)
  assert.ok(ids.includes(engineeringId))

  // Super-administrator pages are not offered, and the server refuses them.
  assert.equal(await member.locator('[data-test=nav]').getByText('Audit log').count(), 0)
  await member.goto(new URL('/admin/audit', server.url).href)
  await member.waitForURL(/\/admin\/members/)
  const status = await member.evaluate(async (userid) => (await fetch(`/api/v1/admin/members/${userid}`)).status, server.admin)
  assert.equal(status, 403)
})

test('the audit page shows these actions', async () => {
  await admin.goto(new URL('/admin/audit', server.url).href)
  const table = admin.locator('[data-test=audit-table]')
  await table.locator('.el-table__row').first().waitFor()
  const text = await table.innerText()
  for (const action of ['department.create', 'member.create', 'member.password.reset', 'session.create']) {
    assert.match(text, new RegExp(action.replace(/\./g, '\\.')), `audit shows ${action}`)
  }
  assert.match(text, /totp/i)
  await admin.locator('[data-test=audit-action]').fill('department.create')
  await admin.locator('[data-test=audit-search]').click()
  const filtered = await until(async () => {
    const rows = await table.locator('.el-table__row').allInnerTexts()
    return rows.length >= 1 && rows.every((r) => r.includes('department.create')) ? rows : null
  })
  assert.ok(filtered.length >= 1)
  await screenshot(admin, 'admin-audit-1280')
})
