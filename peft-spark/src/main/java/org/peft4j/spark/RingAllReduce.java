package org.peft4j.spark;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Sums float arrays over a group of workers connected in a ring, each to the next over one TCP
 * connection: the array is cut into as many chunks as workers, each chunk is summed along the ring
 * (reduce-scatter, n - 1 steps) and the sums passed round to everyone (all-gather, n - 1 steps), so
 * each worker sends about 2 (n - 1) / n times the array, whatever n. Every chunk's sum is made by
 * one worker and copied to the others, so all workers end with bit-identical results.
 *
 * <p>A peer that does not answer within the timeout, closes its connection, or sends a message of
 * another round or size fails the call with an {@link IOException} saying which peer and why; it
 * never hangs. Not thread-safe: one call at a time, in the same order on every worker.
 */
public final class RingAllReduce implements AutoCloseable {
    private final int rank;
    private final int size;
    private final Duration timeout;
    private final Socket toNext;
    private final Socket fromPrevious;
    private final DataOutputStream out;
    private final DataInputStream in;
    private final ExecutorService sender;
    private final String previousAddress;
    private long round;
    private long bytesSent;

    private RingAllReduce(int rank, int size, Duration timeout, Socket toNext, Socket fromPrevious,
            String previousAddress) throws IOException {
        this.rank = rank;
        this.size = size;
        this.timeout = timeout;
        this.toNext = toNext;
        this.fromPrevious = fromPrevious;
        this.previousAddress = previousAddress;
        this.out = toNext == null ? null : new DataOutputStream(new BufferedOutputStream(toNext.getOutputStream(), 1 << 16));
        this.in = fromPrevious == null ? null : new DataInputStream(new BufferedInputStream(fromPrevious.getInputStream(),
                1 << 16));
        this.sender = size == 1 ? null : Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "peft4j-ring-send-" + rank);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Joins the ring: connects to the next worker's server and accepts the previous worker's
     * connection on {@code server}, the socket whose address is {@code addresses.get(rank)}.
     *
     * @param addresses every worker's {@code host:port}, by rank
     * @param timeout how long to wait for a peer, to connect and for each message
     * @throws IOException if a peer cannot be reached within the timeout
     */
    public static RingAllReduce connect(int rank, List<String> addresses, ServerSocket server, Duration timeout)
            throws IOException {
        int size = addresses.size();
        if (rank < 0 || rank >= size) {
            throw new IllegalArgumentException("rank " + rank + " is not among the " + size + " workers");
        }
        if (size == 1) {
            return new RingAllReduce(0, 1, timeout, null, null, null);
        }
        String nextAddress = addresses.get((rank + 1) % size);
        String previousAddress = addresses.get((rank + size - 1) % size);
        int millis = (int) Math.max(1, timeout.toMillis());
        long deadline = System.nanoTime() + timeout.toNanos();
        Socket next;
        while (true) {
            next = new Socket();
            try {
                next.connect(address(nextAddress), millis);
                break;
            } catch (IOException e) {
                next.close();
                if (System.nanoTime() > deadline) {
                    throw new IOException("worker " + rank + " could not reach worker " + (rank + 1) % size + " at "
                            + nextAddress + " within " + timeout + ": " + e.getMessage(), e);
                }
                sleep(50);
            }
        }
        next.setTcpNoDelay(true);
        server.setSoTimeout(millis);
        Socket previous;
        try {
            previous = server.accept();
        } catch (SocketTimeoutException e) {
            next.close();
            throw new IOException("worker " + rank + " waited " + timeout + " for worker " + (rank + size - 1) % size
                    + " (" + previousAddress + ") to connect", e);
        }
        previous.setSoTimeout(millis);
        previous.setTcpNoDelay(true);
        return new RingAllReduce(rank, size, timeout, next, previous, previousAddress);
    }

    private static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while connecting the ring", e);
        }
    }

    /** Returns this worker's place in the ring, from 0. */
    public int rank() {
        return rank;
    }

    /** Returns the number of workers. */
    public int size() {
        return size;
    }

    /** Returns the bytes this worker has sent so far (payload and headers). */
    public long bytesSent() {
        return bytesSent;
    }

    /**
     * Replaces {@code data} by its sum over the workers; every worker passes an array of the same
     * length.
     *
     * @throws IOException if a peer fails, times out, or sends a message that does not fit this call
     */
    public void sumInPlace(float[] data) throws IOException {
        if (size == 1) {
            return;
        }
        round++;
        int[] starts = new int[size + 1];
        for (int c = 0; c <= size; c++) {
            starts[c] = (int) ((long) data.length * c / size);
        }
        // reduce-scatter: at step s a worker passes on chunk (rank - s) and adds its own values to chunk (rank - s - 1)
        for (int s = 0; s < size - 1; s++) {
            int send = Math.floorMod(rank - s, size);
            int receive = Math.floorMod(rank - s - 1, size);
            exchange(data, starts[send], starts[send + 1], starts[receive], starts[receive + 1], true);
        }
        // all-gather: each finished chunk, (rank + 1) first, travels round the ring and is copied
        for (int s = 0; s < size - 1; s++) {
            int send = Math.floorMod(rank + 1 - s, size);
            int receive = Math.floorMod(rank - s, size);
            exchange(data, starts[send], starts[send + 1], starts[receive], starts[receive + 1], false);
        }
    }

    /** Sends data[sendFrom, sendTo) to the next worker while receiving [receiveFrom, receiveTo) from the previous. */
    private void exchange(float[] data, int sendFrom, int sendTo, int receiveFrom, int receiveTo, boolean add)
            throws IOException {
        ByteBuffer outgoing = ByteBuffer.allocate(4 * (sendTo - sendFrom)).order(ByteOrder.LITTLE_ENDIAN);
        outgoing.asFloatBuffer().put(data, sendFrom, sendTo - sendFrom);
        byte[] payload = outgoing.array();
        long thisRound = round;
        Future<?> sent = sender.submit(() -> {
            try {
                out.writeLong(thisRound);
                out.writeInt(payload.length);
                out.write(payload);
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return null;
        });
        bytesSent += 12 + payload.length;
        try {
            long peerRound = in.readLong();
            int length = in.readInt();
            if (peerRound != round || length != 4 * (receiveTo - receiveFrom)) {
                throw new IOException("worker " + rank + " got a message of round " + peerRound + " with " + length
                        + " bytes from " + previousAddress + ", expected round " + round + " with "
                        + 4 * (receiveTo - receiveFrom) + " bytes: the workers are out of step");
            }
            byte[] received = new byte[length];
            in.readFully(received);
            FloatBuffer incoming = ByteBuffer.wrap(received).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            if (add) {
                for (int i = receiveFrom; i < receiveTo; i++) {
                    data[i] += incoming.get();
                }
            } else {
                incoming.get(data, receiveFrom, receiveTo - receiveFrom);
            }
        } catch (SocketTimeoutException e) {
            throw new IOException("worker " + rank + " got nothing from " + previousAddress + " within " + timeout
                    + " (round " + round + "): a peer stopped answering", e);
        }
        try {
            sent.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IOException("worker " + rank + " could not send to the next worker: " + e.getCause().getMessage(),
                    e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("worker " + rank + " could not send to the next worker within " + timeout, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while sending", e);
        }
    }

    @Override
    public void close() throws IOException {
        if (sender != null) {
            sender.shutdownNow();
        }
        if (toNext != null) {
            toNext.close();
        }
        if (fromPrevious != null) {
            fromPrevious.close();
        }
    }
}
