// A Testcontainers (https://java.testcontainers.org) JUnit 5 test that starts the sandbox image
// next to the province's Java tests. Dependencies: org.testcontainers:junit-jupiter and
// org.junit.jupiter:junit-jupiter. The image: build it from the sandbox's checkout
// (`docker build -t vnsandbox:local .`) or pull it from where your team publishes it.
// tests/test_recipes.py checks that the port and the wait path agree with the image.
package vn.province.contract;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.utility.DockerImageName;

@Testcontainers
class SandboxContainerTest {

    @Container
    static final GenericContainer<?> SANDBOX =
            new GenericContainer<>(DockerImageName.parse(System.getProperty("vnsb.image", "vnsandbox:local")))
                    .withExposedPorts(8000)
                    // Ready once the gateway and every platform behind it answer.
                    .waitingFor(Wait.forHttp("/_sandbox/ready").forPort(8000).forStatusCode(200)
                            .withStartupTimeout(Duration.ofSeconds(120)));

    static String sandboxUrl() {
        return "http://" + SANDBOX.getHost() + ":" + SANDBOX.getMappedPort(8000);
    }

    @Test
    void vneidDiscoveryNamesTheSandboxAsIssuer() throws Exception {
        // Configure the province's system with these three base URLs:
        String issuer = sandboxUrl() + "/vneid/v1";
        HttpResponse<String> discovery = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(issuer + "/.well-known/openid-configuration")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, discovery.statusCode());
    }
}
