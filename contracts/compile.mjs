// Compile contracts/src/*.sol with the npm solc package pinned in package-lock.json and write one
// artifact per contract to contracts/artifacts/<Name>.json (abi, bytecode, deployedBytecode,
// immutable references, compiler version and settings).
//
// The settings are spelled out (evmVersion, optimizer) rather than left to the compiler's
// defaults, so a newer solc cannot silently change the bytecode the bot verifies on chain.
//
//   node compile.mjs              write contracts/artifacts/
//   node compile.mjs --out DIR    write to DIR instead (the freshness test compares the two)
import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import solc from 'solc'

const here = dirname(fileURLToPath(import.meta.url))
const srcDir = join(here, 'src')
const outFlag = process.argv.indexOf('--out')
const outDir = outFlag >= 0 ? resolve(process.argv[outFlag + 1]) : join(here, 'artifacts')

export const SETTINGS = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: 'ipfs' },
  outputSelection: {
    '*': {
      '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.deployedBytecode.immutableReferences']
    }
  }
}

// Imports are resolved from node_modules only (`@openzeppelin/...`); sources under src/ import
// each other by relative path, which solc resolves itself against the keys below.
function findImports (path) {
  const candidate = join(here, 'node_modules', path)
  if (path.startsWith('@openzeppelin/') && existsSync(candidate)) {
    return { contents: readFileSync(candidate, 'utf8') }
  }
  return { error: `not found: ${path} (run: npm --prefix contracts ci)` }
}

const sources = {}
for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort()) {
  sources[`src/${file}`] = { content: readFileSync(join(srcDir, file), 'utf8') }
}

const input = { language: 'Solidity', sources, settings: SETTINGS }
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }))
const errors = (output.errors || []).filter((e) => e.severity === 'error')
for (const e of output.errors || []) console.error(e.formattedMessage)
if (errors.length > 0) process.exit(1)

mkdirSync(outDir, { recursive: true })
const recorded = { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata }
for (const [sourceName, contracts] of Object.entries(output.contracts)) {
  if (!sourceName.startsWith('src/')) continue
  for (const [name, c] of Object.entries(contracts)) {
    const artifact = {
      contractName: name,
      sourceName,
      compiler: { name: 'solc', version: solc.version() },
      settings: recorded,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      immutableReferences: c.evm.deployedBytecode.immutableReferences || {}
    }
    writeFileSync(join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + '\n')
    console.log(`${name}: ${c.evm.deployedBytecode.object.length / 2} bytes deployed`)
  }
}
