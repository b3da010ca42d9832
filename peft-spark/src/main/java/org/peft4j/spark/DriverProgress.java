package org.peft4j.spark;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.peft4j.djl.train.ProgressBar;

/**
 * The progress of a Spark run on the driver's console: replica 0 connects to a socket the driver
 * opens ({@link Reporter}) and sends a line after every update; the driver draws a progress bar
 * from them. Best effort: a replica that cannot reach the driver trains on without reporting. Each
 * stage attempt connects anew, so a retried stage shows as a new bar that starts where it resumed.
 */
final class DriverProgress implements AutoCloseable {
    private final ServerSocket server;
    private final PrintStream out;
    private final Thread listener;

    /** Listens on {@code host} (the driver's address, as the executors know it) and draws on {@code out}. */
    DriverProgress(String host, PrintStream out) throws IOException {
        this.server = new ServerSocket(0, 4, InetAddress.getByName(host));
        this.out = out;
        this.listener = new Thread(this::listen, "peft4j-spark-progress");
        listener.setDaemon(true);
        listener.start();
    }

    /** Where replica 0 sends its progress: {@code host:port}. */
    String address() {
        return server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
    }

    private void listen() {
        while (!server.isClosed()) {
            try (Socket replica = server.accept(); BufferedReader in = new BufferedReader(new InputStreamReader(
                    replica.getInputStream(), StandardCharsets.UTF_8))) {
                draw(in);
            } catch (IOException e) {
                // the server closed (the run ended), or a replica's connection broke (its stage failed)
            }
        }
    }

    /** Draws one stage attempt's lines: {@code attempt total}, then {@code update loss} per update. */
    private void draw(BufferedReader in) throws IOException {
        String header = in.readLine();
        if (header == null) {
            return;
        }
        String[] parts = header.split(" ");
        int attempt = Integer.parseInt(parts[0]);
        int total = Integer.parseInt(parts[1]);
        int resumedAfter = Integer.parseInt(parts[2]);
        String label = attempt == 0 ? "spark" : String.format(Locale.ROOT, "spark, attempt %d from update %d",
                attempt + 1, resumedAfter + 1);
        try (ProgressBar bar = new ProgressBar(out, label, total)) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                String[] update = line.split(" ");
                bar.update(Integer.parseInt(update[0]), "loss " + update[1]);
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        try {
            listener.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Replica 0's side: one line per update to the driver, dropped for good at the first failure. */
    static final class Reporter implements AutoCloseable {
        private Socket socket;
        private OutputStream out;

        /** Connects to {@code hostPort} within 5 s, announcing the stage attempt; null address: reports nothing. */
        Reporter(String hostPort, int attempt, int totalUpdates, int resumedAfter) {
            if (hostPort == null) {
                return;
            }
            int colon = hostPort.lastIndexOf(':');
            try {
                socket = new Socket();
                socket.connect(new InetSocketAddress(hostPort.substring(0, colon),
                        Integer.parseInt(hostPort.substring(colon + 1))), 5000);
                out = socket.getOutputStream();
                send(attempt + " " + totalUpdates + " " + resumedAfter);
            } catch (IOException e) {
                close(); // the driver is not reachable from here: train without reporting
            }
        }

        /** Reports update {@code update} with its loss. */
        void update(int update, float loss) {
            send(String.format(Locale.ROOT, "%d %.4f", update, loss));
        }

        private void send(String line) {
            if (out == null) {
                return;
            }
            try {
                out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                close();
            }
        }

        @Override
        public void close() {
            out = null;
            if (socket != null) {
                try {
                    socket.close();
                } catch (IOException e) {
                    // nothing to do: progress is best effort
                }
                socket = null;
            }
        }
    }
}
