// Drives this server's OpenAI-compatible surface with the official OpenAI client library (npm `openai`), as a user
// would: the client's baseURL set to the server, an API key of a tenant. Reads its task as JSON on stdin
// ({part: "embeddings" | "batch", baseURL, apiKey, model, texts, longText, batchFile, timeoutMs}) and writes what the server answered
// as JSON on stdout.
'use strict';
const { OpenAI, toFile } = require('openai');

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function floatsFromBase64(text) {
  const bytes = Buffer.from(text, 'base64');
  const out = [];
  for (let i = 0; i < bytes.length; i += 4) out.push(bytes.readFloatLE(i));
  return out;
}

async function refusal(promise) {
  try {
    await promise;
    return { status: 0 };
  } catch (e) {
    return { status: e.status ?? -1, type: e.type ?? null, code: e.code ?? null, param: e.param ?? null, message: e.message, error: e.error ?? null };
  }
}

async function embeddings(client, task, result) {
  // The client's default: it asks for base64 and decodes the floats itself.
  const single = await client.embeddings.create({ model: task.model, input: task.texts[0] });
  result.single = { object: single.object, model: single.model, usage: single.usage, data: single.data.map(d => ({ index: d.index, embedding: Array.from(d.embedding) })) };

  const floats = await client.embeddings.create({ model: task.model, input: task.texts, encoding_format: 'float' });
  result.floats = { model: floats.model, usage: floats.usage, data: floats.data.map(d => ({ object: d.object, index: d.index, embedding: d.embedding })) };

  const base64 = await client.embeddings.create({ model: task.model, input: task.texts, encoding_format: 'base64' });
  result.base64 = { usage: base64.usage, data: base64.data.map(d => ({ index: d.index, raw: typeof d.embedding, embedding: floatsFromBase64(d.embedding) })) };

  result.refusals = {
    unknownModel: await refusal(client.embeddings.create({ model: 'no-such-model', input: 'x' })),
    tokenArrays: await refusal(client.embeddings.create({ model: task.model, input: [[101, 7592, 102]] })),
    dimensions: await refusal(client.embeddings.create({ model: task.model, input: 'x', dimensions: 7 })),
    tooLong: await refusal(client.embeddings.create({ model: task.model, input: ['fine', task.longText] })),
    badKey: await refusal(new OpenAI({ apiKey: 'not-a-key', baseURL: task.baseURL, maxRetries: 0 }).embeddings.create({ model: task.model, input: 'x' })),
  };
}

async function batch(client, task, result) {
  // The Batch API: upload, create, poll until it ends, read the output and error files.
  const file = await client.files.create({ file: await toFile(Buffer.from(task.batchFile, 'utf8'), 'requests.jsonl'), purpose: 'batch' });
  result.file = file;
  result.fileAgain = await client.files.retrieve(file.id);
  result.fileContent = await (await client.files.content(file.id)).text();
  const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings', completion_window: '24h', metadata: { suite: 'openai-client' } });
  result.created = created;
  const deadline = Date.now() + task.timeoutMs;
  let batch = created;
  while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
    if (Date.now() > deadline) throw new Error(`batch ${batch.id} still ${batch.status}`);
    await new Promise(r => setTimeout(r, 250));
    batch = await client.batches.retrieve(created.id);
  }
  result.batch = batch;
  result.cancelAfterEnd = await refusal(client.batches.cancel(created.id));
  result.output = batch.output_file_id ? await (await client.files.content(batch.output_file_id)).text() : null;
  result.errors = batch.error_file_id ? await (await client.files.content(batch.error_file_id)).text() : null;
  result.outputFile = batch.output_file_id ? await client.files.retrieve(batch.output_file_id) : null;
  const listed = [];
  for await (const b of client.batches.list({ limit: 2 })) listed.push(b.id);
  result.listed = listed;
}

async function main() {
  const task = await readStdin();
  const client = new OpenAI({ apiKey: task.apiKey, baseURL: task.baseURL, maxRetries: 0, timeout: task.timeoutMs });
  const result = {};

  if (task.part === 'embeddings') await embeddings(client, task, result);
  else await batch(client, task, result);
  process.stdout.write(JSON.stringify(result));
}

main().catch(e => {
  process.stderr.write(`${e.stack ?? e}\n${e.error ? JSON.stringify(e.error) : ''}\n`);
  process.exit(1);
});
