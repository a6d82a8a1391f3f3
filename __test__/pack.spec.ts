// The published shape, end to end: pack the platform package and the root package exactly as they
// would be published (scripts/pack-local.mjs), install both tarballs into an empty project with no
// Rust toolchain on PATH, and run a real agent there, from ESM and from CJS (require(esm)), against
// a local OpenAI-compatible server. Proves that `npm install @lumosai/core` needs no Rust, that the
// loader finds the binary in the platform package (not the repo's build output), and that the
// tarball holds everything the facade imports.
import test from 'ava'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('..', import.meta.url))
const isWindows = process.platform === 'win32'

interface Packed {
  root: string
  platform: string
  rootPackage: string
  platformPackage: string
  version: string
  rootFiles: string[]
  optionalDependencies: Record<string, string>
}

const RUST_TOOLS = ['cargo', 'rustc', 'rustup'].flatMap((n) => (isWindows ? [`${n}.exe`, `${n}.cmd`] : [n]))

/** PATH without any directory that holds a Rust toolchain binary. */
function pathWithoutRust(path: string): string {
  return path
    .split(delimiter)
    .filter((dir) => dir && !RUST_TOOLS.some((tool) => existsSync(join(dir, tool))))
    .join(delimiter)
}

/** The consumer's environment: no Rust, no npm_* settings inherited from the `npm test` that runs us
 *  (npm_config_prefix & co. could point the child npm at the repo), no forced binary path. */
function consumerEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|cache|cafile|ca|strict_ssl|proxy|https_proxy|noproxy|userconfig)$/i
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !keep.test(k)) continue
    if (/^(CARGO|RUSTUP)_HOME$|^RUSTC|^NAPI_RS_/i.test(k)) continue
    env[k] = v
  }
  const pathKey = Object.keys(env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH'
  env[pathKey] = pathWithoutRust(env[pathKey] ?? '')
  env.npm_config_audit = 'false'
  env.npm_config_fund = 'false'
  env.npm_config_update_notifier = 'false'
  env.NODE_OPTIONS = ''
  return env
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 5 * 60_000): SpawnSyncReturns<string> {
  // The npm that runs the tests when there is one (a JS entry point), else `npm` from PATH.
  const npmCli = process.env.npm_execpath
  return npmCli && /\.c?js$/.test(npmCli)
    ? spawnSync(process.execPath, [npmCli, ...args], { cwd, env, encoding: 'utf8', timeout })
    : spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout, shell: isWindows })
}

const output = (r: SpawnSyncReturns<string>) =>
  `exit ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`

// The consumer's code. The mock answers OpenAI chat completions in the recorded wire format
// (fixtures/providers/openai-text.json, openai-text.chunks.txt), JSON or SSE as the request asks.
const MOCK_CJS = String.raw`
const http = require('node:http')

exports.startMock = function startMock(text) {
  const requests = []
  const server = http.createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (c) => (raw += c))
    req.on('end', () => {
      let body
      try { body = JSON.parse(raw) } catch { body = raw }
      requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization, stream: !!(body && body.stream), model: body && body.model })
      if (req.method !== 'POST' || !req.url.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: 'not found: ' + req.url, type: 'invalid_request_error' } }))
        return
      }
      const id = 'chatcmpl-packedok0000000000000000000'
      const created = Math.floor(Date.now() / 1000)
      const model = 'gpt-4o-mini-2024-07-18'
      const usage = {
        prompt_tokens: 16, completion_tokens: 2, total_tokens: 18,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      }
      if (body && body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' })
        const chunk = (choices, extra = {}) => ({ id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: 'fp_packedok', choices, usage: null, ...extra })
        const events = [
          chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]),
          ...text.split(/(?= )/).map((piece) => chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }])),
          chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
          chunk([], { usage }),
        ]
        for (const e of events) res.write('data: ' + JSON.stringify(e) + '\n\n')
        res.end('data: [DONE]\n\n')
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
        usage, service_tier: 'default', system_fingerprint: 'fp_packedok',
      }))
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: 'http://127.0.0.1:' + server.address().port + '/v1',
        requests,
        close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()) }),
      })
    })
  })
}

// Which copy of the addon did this process load? (the platform package's, never the repo's)
exports.loadedAddons = function loadedAddons() {
  return (process.report.getReport().sharedObjects || []).filter((p) => p.endsWith('.node'))
}
`

const consumerScript = (kind: 'esm' | 'cjs', platformPackage: string) => {
  const load =
    kind === 'esm'
      ? `import { createRequire } from 'node:module'\nconst require = createRequire(import.meta.url)\nconst lumos = await import('@lumosai/core')`
      : `const lumos = require('@lumosai/core')`
  const body = `
const { startMock, loadedAddons } = require('./mock.cjs')
async function main() {
  const mock = await startMock('packed ok')
  try {
    const agent = new lumos.Agent({ id: 'a', name: 'a', instructions: 'x', model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k' } })
    const result = await agent.generate('hi')
    console.log('RESULT ' + JSON.stringify({
      text: result.text,
      finishReason: result.finishReason,
      requests: mock.requests,
      addons: loadedAddons(),
      platformPackage: require.resolve(${JSON.stringify(`${platformPackage}/package.json`)}),
      exports: Object.keys(lumos).sort(),
    }))
  } finally {
    await mock.close()
  }
}
`
  return kind === 'esm' ? `${load}\n${body}\nawait main()\n` : `${load}\n${body}\nmain().catch((e) => { console.error(e); process.exitCode = 1 })\n`
}

let dir = ''
let env: NodeJS.ProcessEnv = {}
let packed: Packed

test.before('pack both packages and install the tarballs into an empty project', (t) => {
  t.timeout(8 * 60_000, 'packing and installing took too long')
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'lumos-pack-spec-')))
  const outDir = join(dir, 'tarballs')

  const pack = spawnSync(process.execPath, [join(repo, 'scripts', 'pack-local.mjs'), outDir], { cwd: repo, encoding: 'utf8', timeout: 3 * 60_000 })
  if (pack.status !== 0) throw new Error(`scripts/pack-local.mjs failed\n${output(pack)}`)
  packed = JSON.parse(pack.stdout.trim().split('\n').pop()!)
  t.log(`packed ${packed.rootPackage} + ${packed.platformPackage} into ${outDir}`)

  const project = join(dir, 'consumer')
  mkdirSync(project)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'lumos-pack-consumer', version: '1.0.0', private: true }, null, 2))
  writeFileSync(join(project, 'mock.cjs'), MOCK_CJS)
  writeFileSync(join(project, 'run.mjs'), consumerScript('esm', packed.platformPackage))
  writeFileSync(join(project, 'run.cjs'), consumerScript('cjs', packed.platformPackage))

  env = consumerEnv()
  const install = npm(['install', '--no-audit', '--no-fund', '--loglevel=warn', packed.root, packed.platform], project, env)
  if (install.status !== 0) throw new Error(`npm install of the tarballs failed\n${output(install)}`)
})

test.after.always('clean up', () => {
  if (dir && !process.env.LUMOS_KEEP_TMP) rmSync(dir, { recursive: true, force: true })
})

const run = (script: string) => spawnSync(process.execPath, [script], { cwd: join(dir, 'consumer'), env, encoding: 'utf8', timeout: 60_000 })

function resultOf(r: SpawnSyncReturns<string>) {
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
  if (r.status !== 0 || !line) throw new Error(`the consumer script did not finish (it must exit by itself within 60s)\n${output(r)}`)
  return JSON.parse(line.slice('RESULT '.length))
}

test('the consumer environment has no Rust toolchain', (t) => {
  const r = spawnSync('cargo', ['--version'], { env, encoding: 'utf8' })
  t.truthy(r.error, `cargo is still resolvable: ${r.stdout}`)
  t.is((r.error as NodeJS.ErrnoException | undefined)?.code, 'ENOENT')
  t.is(spawnSync('rustc', ['--version'], { env }).error?.message.includes('ENOENT'), true)
})

test('tarballs: facade and loader in the root package, exactly one binary in the platform package', (t) => {
  for (const f of ['package.json', 'index.js', 'index.d.ts', 'binding.js', 'binding.d.ts']) t.true(packed.rootFiles.includes(f), `root tarball lacks ${f}`)
  t.deepEqual(
    packed.rootFiles.filter((f) => f.endsWith('.node')),
    [],
    'the root tarball must not carry a binary',
  )
  const installedRoot = join(dir, 'consumer', 'node_modules', ...packed.rootPackage.split('/'))
  const installedPlatform = join(dir, 'consumer', 'node_modules', ...packed.platformPackage.split('/'))
  const rootPkg = JSON.parse(readFileSync(join(installedRoot, 'package.json'), 'utf8'))
  t.is(rootPkg.optionalDependencies?.[packed.platformPackage], packed.version, 'root pins its platform package at its own version')
  const platformPkg = JSON.parse(readFileSync(join(installedPlatform, 'package.json'), 'utf8'))
  t.is(platformPkg.version, packed.version)
  t.deepEqual(
    readdirSync(installedPlatform).filter((f) => f.endsWith('.node')),
    [platformPkg.main],
  )
  // Runtime dependencies come from the registry, not from the repo's node_modules.
  t.true(existsSync(join(dir, 'consumer', 'node_modules', 'zod', 'package.json')), 'zod was installed from the registry')
})

const checkRun = (t: import('ava').ExecutionContext, result: any) => {
  t.is(result.text, 'packed ok')
  t.true(result.exports.includes('Agent'))
  t.is(result.requests.length, 1, `one model call: ${JSON.stringify(result.requests)}`)
  t.is(result.requests[0].method, 'POST')
  t.is(result.requests[0].url, '/v1/chat/completions')
  t.is(result.requests[0].authorization, 'Bearer k')
  t.is(result.requests[0].model, 'gpt-4o-mini')
  const consumer = join(dir, 'consumer', 'node_modules')
  t.true(result.platformPackage.startsWith(consumer), `platform package resolved outside the consumer: ${result.platformPackage}`)
  const addons: string[] = result.addons.map((p: string) => (isWindows ? p.toLowerCase() : p))
  t.true(
    addons.some((p) => p.startsWith(isWindows ? consumer.toLowerCase() : consumer)),
    `the addon must be loaded from the installed platform package; loaded: ${JSON.stringify(result.addons)}`,
  )
  t.false(
    addons.some((p) => p.startsWith(isWindows ? repo.toLowerCase() : repo)),
    'the repo build output must not be loaded',
  )
}

test('ESM: import @lumosai/core from the installed tarballs and generate against a local OpenAI-compatible server', (t) => {
  checkRun(t, resultOf(run('run.mjs')))
})

test('CJS: require(@lumosai/core) works (require(esm), Node >= 20.19) and generates', (t) => {
  const [major, minor] = process.versions.node.split('.').map(Number)
  if (major === 20 && minor < 19) {
    t.pass(`require(esm) needs Node >= 20.19 (this is ${process.versions.node})`)
    return
  }
  const r = run('run.cjs')
  if (/ERR_REQUIRE_ASYNC_MODULE/.test(r.stderr))
    t.fail(`the package (or a module it imports) uses top-level await, so CJS consumers cannot require() it\n${output(r)}`)
  checkRun(t, resultOf(r))
})
