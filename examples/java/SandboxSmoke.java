// The sandbox from Java with nothing but the JDK (17+): `java SandboxSmoke.java http://127.0.0.1:8000`.
// Waits for readiness, reads the VNeID discovery document, then asks the gateway's journal
// whether that call was recorded (WireMock-style verify). Exit 0 when all three hold.
// tests/test_recipes.py runs it against a sandbox when a JDK is present.
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class SandboxSmoke {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return HTTP.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static void waitReady(String base) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                if (send(HttpRequest.newBuilder(URI.create(base + "/_sandbox/ready"))).statusCode() == 200) return;
            } catch (java.io.IOException notYet) {
                // not listening yet
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("sandbox not ready at " + base);
    }

    public static void main(String[] args) throws Exception {
        String base = args.length > 0 ? args[0] : System.getenv().getOrDefault("VNSB_URL", "http://127.0.0.1:8000");
        waitReady(base);
        HttpResponse<String> discovery =
                send(HttpRequest.newBuilder(URI.create(base + "/vneid/v1/.well-known/openid-configuration")));
        Matcher issuer = Pattern.compile("\"issuer\"\\s*:\\s*\"([^\"]+)\"").matcher(discovery.body());
        if (discovery.statusCode() != 200 || !issuer.find()) {
            System.err.println("discovery failed: " + discovery.statusCode() + " " + discovery.body());
            System.exit(1);
        }
        System.out.println("issuer " + issuer.group(1));
        String verify = "{\"method\":\"GET\",\"path\":\"/vneid/v1/.well-known/openid-configuration\"}";
        HttpResponse<String> journal = send(HttpRequest.newBuilder(URI.create(base + "/_sandbox/journal/verify"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(verify)));
        Matcher count = Pattern.compile("\"count\"\\s*:\\s*(\\d+)").matcher(journal.body());
        if (!count.find() || Integer.parseInt(count.group(1)) < 1) {
            System.err.println("journal verify found no discovery call: " + journal.statusCode() + " " + journal.body());
            System.exit(1);
        }
        System.out.println("journal verify: " + count.group(1) + " discovery call(s) recorded");
    }
}
