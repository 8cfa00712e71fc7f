// An independent Standard Webhooks verifier: the reference `standardwebhooks` package, not this project's code.
// Input on stdin: { "secret": "whsec_...", "headers": { "webhook-id": ..., ... }, "body": "..." }.
// Prints the verified payload as JSON and exits 0, or prints the reason and exits 1.
const { Webhook } = require("standardwebhooks");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { secret, headers, body } = JSON.parse(input);
  try {
    const payload = new Webhook(secret).verify(body, headers);
    process.stdout.write(JSON.stringify(payload));
  } catch (error) {
    process.stdout.write(`verification failed: ${error.message}`);
    process.exit(1);
  }
});
