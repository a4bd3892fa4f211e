// Test harness: a real `qiye serve` on a free loopback port with a fresh data
// directory, Debian's Chromium driven by playwright-core (never a downloaded
// browser), TOTP codes computed here from the secret, and screenshots under
// target/e2e/.
import { spawn, execFileSync } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const QIYE_BIN = process.env.QIYE_BIN ?? join(repo, 'target/debug/qiye')
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
export const SHOTS = join(repo, 'target/e2e')

export const DESKTOP = { width: 1280, height: 800 }
export const PHONE = { width: 390, height: 844 }

async function freePort() {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => done(port))
    })
  })
}

/** Starts the server; resolves once it serves, with what its first start printed. */
export async function startServer() {
  if (!existsSync(QIYE_BIN)) throw new Error(`${QIYE_BIN} is missing: run cargo build -p qiye-server --bin qiye`)
  const dataDir = mkdtempSync(join(tmpdir(), 'qiye-e2e-'))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const child = spawn(QIYE_BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--no-metrics', '--data-dir', dataDir], {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const ready = new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`qiye serve did not start in 60 s:\n${output}`)), 60_000)
    const read = (chunk) => {
      output += chunk
      if (/qiye: serving /.test(output)) {
        clearTimeout(timer)
        done()
      }
    }
    child.stdout.setEncoding('utf8').on('data', read)
    child.stderr.setEncoding('utf8').on('data', read)
    child.once('exit', (code) => {
      clearTimeout(timer)
      fail(new Error(`qiye serve exited (${code}):\n${output}`))
    })
  })
  await ready
  const value = (label) => {
    const m = new RegExp(`^\\s*${label}\\s+(\\S+)`, 'm').exec(output)
    if (!m) throw new Error(`no "${label}" in the server's output:\n${output}`)
    return m[1]
  }
  return {
    url,
    port,
    dataDir,
    corpid: value('corpid'),
    admin: value('admin userid'),
    password: value('admin password'),
    output: () => output,
    /** Runs a CLI subcommand on the same data directory. */
    cli: (...args) => execFileSync(QIYE_BIN, [...args, '--data-dir', dataDir], { encoding: 'utf8' }),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once('exit', done))
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Launches headless Chromium; Playwright gives every launch a fresh, temporary profile. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
}

export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true })
  await page.evaluate(() => document.fonts.ready.then(() => undefined))
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false })
}

function base32(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const ch of secret.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(ch)
    if (v < 0) throw new Error(`not base32: ${ch}`)
    bits += v.toString(2).padStart(5, '0')
  }
  const bytes = []
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2))
  return Buffer.from(bytes)
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret at a time. */
export function totp(secret, at = Date.now()) {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)))
  const mac = createHmac('sha1', base32(secret)).update(counter).digest()
  const offset = mac[mac.length - 1] & 0x0f
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000
  return String(code).padStart(6, '0')
}

/** Fills the sign-in form and submits it. */
export async function signIn(page, server, login, password) {
  await page.goto(new URL('/login', server.url).href)
  await page.locator('[data-test=corpid]').fill(server.corpid)
  await page.locator('[data-test=login]').fill(login)
  await page.locator('[data-test=password]').fill(password)
  await page.locator('[data-test=submit]').click()
}

/** Answers the forced password change after a one-time password. */
export async function changePassword(page, oldPassword, newPassword) {
  await page.waitForURL(/\/password$/)
  await page.locator('[data-test=old-password]').fill(oldPassword)
  await page.locator('[data-test=new-password]').fill(newPassword)
  await page.locator('[data-test=repeat-password]').fill(newPassword)
  await page.locator('[data-test=change-password]').click()
}
