import ai.pocketnn.Model;
import ai.pocketnn.PocketnnException;
import ai.pocketnn.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Drives ai.pocketnn.Model for tests/test_java_binding.py:
 *   run MODEL OUT_PREFIX IN0.bin ...  loads MODEL from its path and from a byte[], runs it
 *       through float[], Map and ByteBuffer, checks the three agree bit for bit, writes
 *       output i (float32, native order) to OUT_PREFIX.i.bin
 *   load-error FILE                   prints "status N: MESSAGE" of the PocketnnException
 *   misuse MODEL                      wrong sizes, names, closed models: prints each exception
 */
public final class RunModel {
    public static void main(String[] args) throws IOException {
        switch (args[0]) {
            case "run": run(args); break;
            case "load-error": loadError(args[1]); break;
            case "misuse": misuse(args[1]); break;
            default: throw new IllegalArgumentException(args[0]);
        }
    }

    private static void run(String[] args) throws IOException {
        try (Model byPath = Model.load(args[1], 2);
                Model byBytes = Model.load(Files.readAllBytes(Paths.get(args[1])))) {
            System.out.println("runtime " + Model.runtimeVersion() + " " + Model.runtimeIsa());
            float[][] values = new float[byPath.numInputs()][];
            Map<String, float[]> named = new LinkedHashMap<>();
            ByteBuffer[] buffers = new ByteBuffer[values.length];
            for (int i = 0; i < values.length; i++) {
                values[i] = readFloats(Paths.get(args[3 + i]));
                named.put(byPath.inputInfo(i).name(), values[i]);
                buffers[i] = direct(byPath.inputInfo(i).sizeBytes());
                buffers[i].asFloatBuffer().put(values[i]);
                System.out.println("input " + byPath.inputInfo(i));
            }
            float[][] results = byPath.run(values);
            Map<String, float[]> namedResults = byBytes.run(named);
            ByteBuffer[] resultBuffers = new ByteBuffer[byPath.numOutputs()];
            for (int i = 0; i < resultBuffers.length; i++) {
                resultBuffers[i] = direct(byPath.outputInfo(i).sizeBytes());
            }
            byBytes.run(buffers, resultBuffers);
            for (int i = 0; i < results.length; i++) {
                TensorInfo info = byPath.outputInfo(i);
                float[] fromBuffer = new float[info.elementCount()];
                resultBuffers[i].asFloatBuffer().get(fromBuffer);
                if (!Arrays.equals(results[i], namedResults.get(info.name()))
                        || !Arrays.equals(results[i], fromBuffer)) {
                    throw new AssertionError("output " + info + " differs between float[], Map and ByteBuffer runs");
                }
                ByteBuffer out = ByteBuffer.allocate(4 * results[i].length).order(ByteOrder.nativeOrder());
                out.asFloatBuffer().put(results[i]);
                Files.write(Paths.get(args[2] + "." + i + ".bin"), out.array());
                System.out.println("output " + info);
            }
        }
    }

    private static void loadError(String file) throws IOException {
        try (Model model = Model.load(Files.readAllBytes(Paths.get(file)))) {
            System.out.println("loaded, " + model.numInputs() + " inputs");
        } catch (PocketnnException e) {
            System.out.println("status " + e.status() + ": " + e.getMessage());
        }
    }

    private static void misuse(String file) {
        Model model = Model.load(file);
        int inputs = model.numInputs();
        expect("wrong count", () -> model.run(new float[inputs + 1][]));
        expect("wrong size", () -> {
            float[][] values = new float[inputs][];
            for (int i = 0; i < inputs; i++) {
                values[i] = new float[model.inputInfo(i).elementCount() + 1];
            }
            model.run(values);
        });
        expect("unknown name", () -> model.run(Map.of("no such input", new float[1])));
        expect("heap buffer", () -> {
            ByteBuffer[] values = new ByteBuffer[inputs];
            ByteBuffer[] results = new ByteBuffer[model.numOutputs()];
            for (int i = 0; i < inputs; i++) {
                values[i] = ByteBuffer.allocate(Math.toIntExact(model.inputInfo(i).sizeBytes()));
            }
            for (int i = 0; i < results.length; i++) {
                results[i] = direct(model.outputInfo(i).sizeBytes());
            }
            model.run(values, results);
        });
        expect("zero threads", () -> Model.load(file, 0));
        expect("missing file", () -> Model.load(file + ".missing"));
        model.close();
        model.close();
        expect("closed", () -> model.run(new float[inputs][]));
    }

    private static void expect(String what, Runnable action) {
        try {
            action.run();
            throw new AssertionError(what + ": no exception");
        } catch (IllegalArgumentException | IllegalStateException | PocketnnException e) {
            System.out.println(what + ": " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    private static ByteBuffer direct(long bytes) {
        return ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
    }

    private static float[] readFloats(Path path) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.nativeOrder());
        float[] values = new float[bytes.remaining() / 4];
        bytes.asFloatBuffer().get(values);
        return values;
    }
}
