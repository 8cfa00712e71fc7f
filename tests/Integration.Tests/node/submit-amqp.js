// Enqueues a predict job over plain AMQP 0-9-1 with amqplib, following the wire format in the README:
// the MassTransit JSON envelope published to the fanout exchange named after the message type.
// Usage: node submit-amqp.js <amqp-uri> <job-json>
// The job is SubmitPredictJob's fields, its record in the Open Inference Protocol's tensor form, for example
//   {"jobId": "...", "model": "iris", "submittedAt": "...",
//    "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [5.1, 3.5, 1.4, 0.2]}],
//    "outputs": [{"name": "output"}]}
const amqp = require("amqplib");

async function main() {
  const [uri, jobJson] = process.argv.slice(2);
  const job = JSON.parse(jobJson);
  for (const input of job.inputs ?? []) {
    // The tensor form needs all four fields; say so here rather than as a failed job later.
    if (!input.name || !input.datatype || !Array.isArray(input.shape) || !Array.isArray(input.data)) {
      throw new Error(`input ${JSON.stringify(input)} needs name, datatype, shape and data`);
    }
  }
  const exchange = "AIaaS.Queue.Contracts:SubmitPredictJob";
  const connection = await amqp.connect(uri);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.checkExchange(exchange); // declared by the workers on start-up
    const envelope = {
      messageId: job.jobId, // the job id: a duplicate publish is recognisable downstream
      messageType: [`urn:message:${exchange}`],
      message: job,
      sentTime: new Date().toISOString(),
      headers: {},
    };
    channel.publish(exchange, "", Buffer.from(JSON.stringify(envelope)), {
      contentType: "application/vnd.masstransit+json",
      messageId: job.jobId,
      persistent: true,
    });
    await channel.waitForConfirms();
    console.log(`published ${job.jobId}`);
  } finally {
    await connection.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
