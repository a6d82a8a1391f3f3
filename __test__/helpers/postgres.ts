// A throwaway PostgreSQL server for specs: initdb into a temp dir, pg_ctl start on a free port,
// stopped and removed by stop(). As root (initdb refuses root) it runs as the `postgres` user
// through runuser. Returns undefined (and says why) when PostgreSQL is not installed.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { chownSync, chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'

export interface PgServer {
  port: number
  /** With `tls`: the PEM file of the CA that signed the server's certificate (for `localhost`). */
  caFile?: string
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

/** `tls`: TCP takes TLS only (`hostnossl … reject`), with a test CA's certificate for `localhost`. */
export async function startPostgres({ tls = false }: { tls?: boolean } = {}): Promise<PgServer | undefined> {
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
  let opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`
  if (tls) {
    const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=lumos js test ca', '-keyout', 'ca.key', '-out', 'ca.crt'])
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr'])
    openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt'])
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
      for (const f of ['server.key', 'server.crt']) chownSync(join(dir, f), uid, Number(execFileSync('id', ['-g', 'postgres']).toString().trim()))
    }
    chmodSync(join(dir, 'server.key'), 0o600)
    writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n')
    opts += ` -c ssl=on -c ssl_cert_file=${dir}/server.crt -c ssl_key_file=${dir}/server.key`
  }
  run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', opts, '-w', '-t', '60', 'start'])
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`
  return {
    port,
    caFile: tls ? join(dir, 'ca.crt') : undefined,
    url,
    createDb(name) {
      // A TLS server takes plain connections on its socket only.
      run('createdb', ['-h', tls ? dir : '127.0.0.1', '-p', String(port), '-U', 'postgres', name])
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
export function postgresTests(options: { tls?: boolean } = {}) {
  let pg: PgServer | undefined
  test.before(async () => {
    pg = await startPostgres(options)
  })
  test.after.always(() => pg?.stop())
  return (title: string, fn: (t: any, url: string, server: PgServer) => Promise<void>) =>
    test.serial(title, async (t) => {
      if (!pg) {
        t.log('skipped: no PostgreSQL binaries')
        t.pass()
        return
      }
      await fn(t, pg.createDb(`db_${Math.random().toString(36).slice(2, 10)}`), pg)
    })
}
