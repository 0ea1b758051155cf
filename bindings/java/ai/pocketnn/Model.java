package ai.pocketnn;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A loaded .pnn model with one session, over the C runtime (libpocketnn_jni).
 *
 * <pre>{@code
 * try (Model model = Model.load("/data/model.pnn")) {
 *     float[] logits = model.run(pixels)[0];
 * }
 * }</pre>
 *
 * Methods are synchronized: one run at a time per Model (the C session is single-threaded);
 * load one Model per thread for parallel inference. close() frees the native memory and
 * may be called any number of times; using a closed Model throws IllegalStateException.
 * Errors of the runtime throw {@link PocketnnException} with the C message.
 */
public final class Model implements AutoCloseable {
    static {
        System.loadLibrary("pocketnn_jni");
    }

    private long handle;
    private final TensorInfo[] inputs;
    private final TensorInfo[] outputs;

    private Model(long handle) {
        this.handle = handle;
        try {
            inputs = infos(handle, false);
            outputs = infos(handle, true);
        } catch (RuntimeException e) {
            nativeFree(handle);
            throw e;
        }
    }

    /** Loads a .pnn file; the session runs in one thread. */
    public static Model load(String path) {
        return load(path, 1);
    }

    /** Loads a .pnn file; the session runs in {@code threads} threads (the caller's included). */
    public static Model load(String path, int threads) {
        Objects.requireNonNull(path, "path");
        return new Model(nativeLoadFile(path, checkThreads(threads)));
    }

    /** Loads a .pnn from memory (e.g. an Android asset); the bytes are copied once. */
    public static Model load(byte[] data) {
        return load(data, 1);
    }

    public static Model load(byte[] data, int threads) {
        Objects.requireNonNull(data, "data");
        return new Model(nativeLoadBytes(data, checkThreads(threads)));
    }

    public int numInputs() {
        return inputs.length;
    }

    public int numOutputs() {
        return outputs.length;
    }

    public TensorInfo inputInfo(int index) {
        return inputs[index];
    }

    public TensorInfo outputInfo(int index) {
        return outputs[index];
    }

    /** Runs on float32 inputs in the model's order; returns the float32 outputs in order. */
    public synchronized float[][] run(float[]... values) {
        Objects.requireNonNull(values, "values");
        long h = openHandle();
        if (values.length != inputs.length) {
            throw new IllegalArgumentException("the model has " + inputs.length + " inputs, got " + values.length);
        }
        for (int i = 0; i < inputs.length; i++) {
            checkFloat(inputs[i]);
            Objects.requireNonNull(values[i], inputs[i].name());
            if (values[i].length != inputs[i].elementCount()) {
                throw new IllegalArgumentException("input " + inputs[i] + " has " + inputs[i].elementCount()
                        + " elements, got " + values[i].length);
            }
        }
        float[][] results = new float[outputs.length][];
        for (int i = 0; i < outputs.length; i++) {
            checkFloat(outputs[i]);
            results[i] = new float[outputs[i].elementCount()];
        }
        nativeRun(h, values, results, false);
        return results;
    }

    /** Runs on float32 inputs by name; returns the outputs by name, in the model's order. */
    public Map<String, float[]> run(Map<String, float[]> values) {
        Objects.requireNonNull(values, "values");
        float[][] ordered = new float[inputs.length][];
        for (int i = 0; i < inputs.length; i++) {
            ordered[i] = values.get(inputs[i].name());
            if (ordered[i] == null) {
                throw new IllegalArgumentException("no value for input " + inputs[i]);
            }
        }
        if (values.size() != inputs.length) {
            throw new IllegalArgumentException("inputs the model does not have among " + values.keySet());
        }
        float[][] results = run(ordered);
        Map<String, float[]> named = new LinkedHashMap<>();
        for (int i = 0; i < outputs.length; i++) {
            named.put(outputs[i].name(), results[i]);
        }
        return named;
    }

    /**
     * Runs on direct ByteBuffers in native byte order, any element type: each buffer holds
     * the tensor from its start (index 0, position ignored) and has at least
     * {@link TensorInfo#sizeBytes()} bytes. No Java arrays are allocated.
     */
    public synchronized void run(ByteBuffer[] values, ByteBuffer[] results) {
        Objects.requireNonNull(values, "values");
        Objects.requireNonNull(results, "results");
        long h = openHandle();
        checkBuffers(values, inputs, "input");
        checkBuffers(results, outputs, "output");
        nativeRun(h, values, results, true);
    }

    @Override
    public synchronized void close() {
        if (handle != 0) {
            nativeFree(handle);
            handle = 0;
        }
    }

    /** PNN_RUNTIME_VERSION of the linked C library. */
    public static native String runtimeVersion();

    /** The instruction set the kernels use on this CPU, e.g. "neondot" or "avx2". */
    public static native String runtimeIsa();

    private long openHandle() {
        if (handle == 0) {
            throw new IllegalStateException("the model is closed");
        }
        return handle;
    }

    private static int checkThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        return threads;
    }

    private static void checkFloat(TensorInfo info) {
        if (info.dtype() != DType.F32) {
            throw new IllegalArgumentException(info + " is not float32: use run(ByteBuffer[], ByteBuffer[])");
        }
    }

    private static void checkBuffers(ByteBuffer[] buffers, TensorInfo[] infos, String kind) {
        if (buffers.length != infos.length) {
            throw new IllegalArgumentException(
                    "the model has " + infos.length + " " + kind + "s, got " + buffers.length);
        }
        for (int i = 0; i < infos.length; i++) {
            if (buffers[i] == null || !buffers[i].isDirect() || buffers[i].capacity() < infos[i].sizeBytes()) {
                throw new IllegalArgumentException(kind + " " + infos[i] + " needs a direct ByteBuffer of "
                        + infos[i].sizeBytes() + " bytes");
            }
        }
    }

    private static TensorInfo[] infos(long handle, boolean output) {
        TensorInfo[] infos = new TensorInfo[nativeCount(handle, output)];
        for (int i = 0; i < infos.length; i++) {
            infos[i] = nativeInfo(handle, output, i);
        }
        return infos;
    }

    private static native long nativeLoadFile(String path, int threads);

    private static native long nativeLoadBytes(byte[] data, int threads);

    private static native void nativeFree(long handle);

    private static native int nativeCount(long handle, boolean outputs);

    private static native TensorInfo nativeInfo(long handle, boolean output, int index);

    /** values and results are float[][] (direct false) or direct ByteBuffer[] (direct true). */
    private static native void nativeRun(long handle, Object[] values, Object[] results, boolean direct);
}
