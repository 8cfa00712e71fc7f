// Enqueues a predict job over plain AMQP 0-9-1 with amqplib, following the wire format in the README:
// the MassTransit JSON envelope published to the fanout exchange named after the message type.
// Usage: node submit-amqp.js <amqp-uri> <job-json>
const amqp = require("amqplib");

async function main() {
  const [uri, jobJson] = process.argv.slice(2);
  const job = JSON.parse(jobJson);
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
