// A throwaway PostgreSQL server for specs: initdb into a temp dir, pg_ctl start on a free port,
// stopped and removed by stop(). As root (initdb refuses root) it runs as the `postgres` user
// through runuser. Returns undefined (and says why) when PostgreSQL is not installed.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'

export interface PgServer {
  port: number
  url(db: string): string
  createDb(name: string): string
  stop(): void
}

/** Debian keeps the server tools (initdb, pg_ctl, createdb) together under /usr/lib/postgresql. */
function binDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : []
  if (versions.length) return join(root, versions[0], 'bin')
  const tools = ['initdb', 'pg_ctl', 'createdb']
  return (process.env.PATH ?? '').split(':').find((dir) => tools.every((t) => existsSync(join(dir, t))))
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

export async function startPostgres(): Promise<PgServer | undefined> {
  const bin = binDir()
  if (!bin) {
    console.error('skipped: no PostgreSQL binaries (initdb/pg_ctl)')
    return undefined
  }
  const asRoot = process.getuid?.() === 0
  const dir = mkdtempSync('/tmp/lumos-pg-js-')
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  const run = (tool: string, args: string[]) => {
    const exe = join(bin, tool)
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args]
    execFileSync(cmd, argv, { cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } })
  }
  const data = join(dir, 'data')
  const port = await freePort()
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'])
  run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-w', '-t', '60', 'start'])
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`
  return {
    port,
    url,
    createDb(name) {
      run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name])
      return url(name)
    },
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

/**
 * Declares the spec's throwaway server (started before, stopped after all tests) and returns
 * `pgTest(title, fn)`: a serial test given a fresh database URL, or skipped (logged) when the
 * PostgreSQL binaries are missing.
 */
export function postgresTests() {
  let pg: PgServer | undefined
  test.before(async () => {
    pg = await startPostgres()
  })
  test.after.always(() => pg?.stop())
  return (title: string, fn: (t: any, url: string) => Promise<void>) =>
    test.serial(title, async (t) => {
      if (!pg) {
        t.log('skipped: no PostgreSQL binaries')
        t.pass()
        return
      }
      await fn(t, pg.createDb(`db_${Math.random().toString(36).slice(2, 10)}`))
    })
}
